"""Shared fixtures: settings with a known secret, tokens signed like the Apps plugin's, the app
in-process, and the app live under uvicorn next to a fake Mattermost (both on 127.0.0.1)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from jose import jwt
from starlette.testclient import TestClient

from hello_jwt.app import create_app
from hello_jwt.settings import Settings
from hello_jwt.testing import AppsPlugin, FakeMattermost, InstalledApp, User, serve

SECRET = "test-secret-4c1f0e5b9a"


def sign(
    claims: dict[str, Any] | None = None, *, secret: str = SECRET, algorithm: str = "HS256", **headers: Any
) -> str:
    """A token like the plugin's: HS256 with exp = now + 15 min, unless told otherwise."""
    if claims is None:
        claims = {"exp": int(time.time()) + 900}
    return str(jwt.encode(claims, secret, algorithm=algorithm, headers=headers or None))


def auth_header(token: str) -> dict[str, str]:
    return {"Mattermost-App-Authorization": f"Bearer {token}"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(secret=SECRET, data_dir=tmp_path, shutdown_grace=5.0)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@dataclass
class LiveApp:
    """The real app under uvicorn, installed in a simulated Mattermost."""

    url: str
    mattermost: FakeMattermost
    plugin: AppsPlugin
    app: InstalledApp
    user: User


@pytest.fixture
def live(settings: Settings) -> Iterator[LiveApp]:
    with (
        FakeMattermost() as mattermost,
        serve(app_for_url=lambda url: create_app(replace(settings, root_url=url))) as url,
    ):
        plugin = AppsPlugin(mattermost)
        try:
            installed = plugin.install(f"{url}/manifest.json", secret=SECRET)
            yield LiveApp(url, mattermost, plugin, installed, mattermost.add_user("alice"))
        finally:
            plugin.close()
