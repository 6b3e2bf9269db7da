"""An installed hello-jwt must carry what the app serves: the manifest and the icon."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def test_the_wheel_carries_the_manifest_and_the_icon_inside_the_package(tmp_path: Path) -> None:
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path), str(PROJECT_DIR)],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("hello_jwt-*.whl")

    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        packed_manifest = archive.read("hello_jwt/manifest.json")

    assert {"hello_jwt/manifest.json", "hello_jwt/static/icon.png", "hello_jwt/py.typed"} <= names
    assert packed_manifest == (PROJECT_DIR / "manifest.json").read_bytes()
