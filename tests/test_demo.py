"""`make demo` (python -m hello_jwt.demo), run as a newcomer would: a separate process."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def run_demo(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own module, fixed arguments)
        [sys.executable, "-m", "hello_jwt.demo", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_demo_prints_the_flow_and_the_delivered_dm(tmp_path: Path) -> None:
    before = sorted(path.name for path in PROJECT.iterdir())

    demo = run_demo(PROJECT)

    assert demo.returncode == 0, demo.stderr
    out = demo.stdout
    assert "/apps install http http://127.0.0.1:" in out
    assert "POST /ping   (JWT exp=now+15min)" in out
    assert "the admin sees: Installed app `hello-jwt`: Hello, JWT!." in out
    assert "alice sees: an ephemeral post from the app's bot: JWT check ok." in out
    assert "POST /api/v4/posts   (Bearer token)   <- 201" in out
    dm_section = out.split("4. The DM as it landed", 1)[1]
    assert 'DM from @hello-jwt to @alice: "JWT check ok"' in dm_section
    assert out.rstrip().endswith("Demo OK.")
    assert sorted(path.name for path in PROJECT.iterdir()) == before  # nothing written into the checkout


def test_the_demo_never_shows_a_token(tmp_path: Path) -> None:
    demo = run_demo(tmp_path)

    assert demo.returncode == 0, demo.stderr
    assert "eyJ" not in demo.stdout  # how every JWT starts
    assert re.search(r"(Bearer|token) [a-z0-9]{26}", demo.stdout, re.IGNORECASE) is None
    assert '"bot_access_token":' not in demo.stdout


def test_the_demo_fails_clearly_when_the_dm_cannot_be_delivered(tmp_path: Path) -> None:
    demo = run_demo(tmp_path, "--fail-posts", "1000", "--timeout", "1")

    assert demo.returncode == 1
    assert "demo FAILED: step 3 (DM): no DM reached alice within 1 s" in demo.stderr
    assert "POST /api/v4/posts   (Bearer token)   <- 503" in demo.stdout
    assert list(tmp_path.iterdir()) == []


def test_the_demo_survives_a_flaky_mattermost(tmp_path: Path) -> None:
    demo = run_demo(tmp_path, "--fail-posts", "1", "--plugin", "HEAD")

    assert demo.returncode == 0, demo.stderr
    assert "<- 503" in demo.stdout
    assert 'DM from @hello-jwt to @alice: "JWT check ok"' in demo.stdout
