"""`make bench`: run every benchmark module here (bench_*.py, each with a main()) in one process
run after another, so their figures and ratios come from the same machine state."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    sys.path[:0] = [str(HERE), str(HERE.parent)]
    names = sys.argv[1:] or sorted(path.stem for path in HERE.glob("bench_*.py"))
    for name in names:
        print(f"== {name}", flush=True)
        importlib.import_module(name).main()
        print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
