"""The README section "Use the middleware in your own Starlette app": its example is run as
written, and its argument table is checked against the constructor, so neither can drift."""

from __future__ import annotations

import ast
import inspect
import re
import runpy
import time
from pathlib import Path

import pytest
from conftest import sign
from starlette.testclient import TestClient

from hello_jwt.auth import JWTAuthMiddleware

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "## Use the middleware in your own Starlette app"


def section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION) + len(SECTION)
    end = text.find("\n## ", start)
    return text[start : end if end != -1 else None]


def bearer(claims: dict[str, str], secret: str) -> dict[str, str]:
    token = sign({"exp": int(time.time()) + 60, **claims}, secret=secret)
    return {"Mattermost-App-Authorization": f"Bearer {token}"}


def test_the_readme_example_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    [example] = re.findall(r"```python\n(.*?)```", section(), flags=re.DOTALL)
    script = tmp_path / "readme_example.py"
    script.write_text(example, encoding="utf-8")
    monkeypatch.setenv("EU_SECRET", "eu-secret-3b2a")
    monkeypatch.setenv("US_SECRET", "us-secret-9c8d")

    app = runpy.run_path(str(script))["app"]

    with TestClient(app) as client:
        health = client.get("/health")
        refused = client.get("/whoami")
        eu = client.get("/whoami", headers=bearer({"acting_user_id": "u" * 26}, "eu-secret-3b2a"))
        us = client.get("/whoami", headers=bearer({}, "us-secret-9c8d"))
    assert health.status_code == 200
    assert refused.status_code == 401
    assert eu.status_code == 200
    assert eu.json() == {"user": "u" * 26, "server": "eu"}
    assert us.status_code == 200
    assert us.json() == {"user": "", "server": "us"}


def test_the_argument_table_lists_every_argument_with_its_default() -> None:
    rows = re.findall(r"^\| `(\w+)` \| .*? \| (.+?) \| .+ \|$", section(), flags=re.MULTILINE)
    parameters = dict(inspect.signature(JWTAuthMiddleware).parameters)
    del parameters["app"]

    assert [name for name, _ in rows] == list(parameters)
    for name, default_cell in rows:
        default = parameters[name].default
        if default is inspect.Parameter.empty:
            assert default_cell == "required"
        elif callable(default):
            assert default_cell.strip("`").endswith(default.__name__), name
        else:
            assert ast.literal_eval(default_cell.strip("`")) == default, name
