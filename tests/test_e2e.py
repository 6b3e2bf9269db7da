"""The whole flow over real HTTP on 127.0.0.1: the app under uvicorn, installed and called by the
Apps plugin emulator exactly as the plugin would, DMing through a fake Mattermost."""

from __future__ import annotations

import socket
import time
from dataclasses import replace

import pytest
from conftest import SECRET, LiveApp, auth_header, sign

from hello_jwt.app import create_app
from hello_jwt.settings import Settings
from hello_jwt.testing import AppsPlugin, FakeMattermost, InstallError, serve


def test_send_delivers_exactly_one_dm_from_the_bot(live: LiveApp) -> None:
    result = live.plugin.run_command(live.app, live.user, "/hello-jwt send")

    assert result.status_code == 200
    assert result.response["type"] == "ok"
    [post] = live.mattermost.wait_for_posts(1)
    assert post["message"] == "JWT check ok"
    assert post["user_id"] == live.app.bot.id
    assert set(live.mattermost.channels[post["channel_id"]]) == {live.app.bot.id, live.user.id}
    time.sleep(0.5)  # a duplicate, if any, would have landed by now
    assert len(live.mattermost.posts) == 1


def test_send_answers_before_the_dm_is_posted(live: LiveApp) -> None:
    live.mattermost.posts_gate.clear()  # Mattermost holds every post until we let it through

    result = live.plugin.run_command(live.app, live.user, "/hello-jwt send")

    assert result.status_code == 200
    assert result.response["type"] == "ok"
    assert live.mattermost.posts == []
    live.mattermost.posts_gate.set()
    [post] = live.mattermost.wait_for_posts(1)
    assert post["message"] == "JWT check ok"


def test_dm_goes_to_the_user_who_ran_the_command(live: LiveApp) -> None:
    bob = live.mattermost.add_user("bob")

    live.plugin.run_command(live.app, bob, "/hello-jwt send")

    live.mattermost.wait_for_posts(1)
    assert len(live.mattermost.dms_to(bob.id)) == 1
    assert live.mattermost.dms_to(live.user.id) == []


def test_the_dm_uses_the_bot_token_as_a_bearer_token(live: LiveApp) -> None:
    live.plugin.run_command(live.app, live.user, "/hello-jwt send")
    live.mattermost.wait_for_posts(1)

    authorizations = {request.authorization for request in live.mattermost.requests}
    assert authorizations == {f"Bearer {live.app.bot.token}"}


def test_install_fails_with_a_wrong_secret(settings: Settings) -> None:
    with (
        FakeMattermost() as mattermost,
        serve(app_for_url=lambda url: create_app(replace(settings, root_url=url))) as url,
    ):
        with AppsPlugin(mattermost) as plugin, pytest.raises(InstallError) as caught:
            plugin.install(f"{url}/manifest.json", secret="not-the-secret")

    # The plugin shows the app's 401 body, not its status.
    assert str(caught.value).startswith(
        "failed to install, /ping path is not accessible: failed to call /ping endpoint: "
    )
    assert "signature" in str(caught.value)
    assert mattermost.user_by_username("hello-jwt") is None  # no bot: nothing was installed


def test_a_site_url_with_a_sub_path_keeps_it(settings: Settings) -> None:
    with (
        FakeMattermost(sub_path="/chat") as mattermost,
        serve(app_for_url=lambda url: create_app(replace(settings, root_url=url))) as url,
    ):
        plugin = AppsPlugin(mattermost)
        app = plugin.install(f"{url}/manifest.json", secret=SECRET)
        user = mattermost.add_user("carol")

        plugin.run_command(app, user, "/hello-jwt send")

        [post] = mattermost.wait_for_posts(1)
        plugin.close()
    assert post["message"] == "JWT check ok"
    assert all(request.path.startswith("/chat/api/v4/") for request in mattermost.requests)


def test_the_app_works_behind_a_proxy_with_a_root_path(settings: Settings) -> None:
    with (
        FakeMattermost() as mattermost,
        serve(app_for_url=lambda url: create_app(replace(settings, root_url=url)), root_path="/hello") as url,
    ):
        plugin = AppsPlugin(mattermost)
        app = plugin.install(f"{url}/manifest.json", secret=SECRET)
        user = mattermost.add_user("dave")

        result = plugin.run_command(app, user, "/hello-jwt send")

        assert result.response["type"] == "ok"
        [post] = mattermost.wait_for_posts(1)
        assert plugin.http.post(f"{url}/ping").status_code == 401
        plugin.close()
    assert post["message"] == "JWT check ok"


def raw_get(url: str, path: str, headers: dict[str, str] | None = None) -> int:
    """GET with the path sent as is (HTTP clients would normalise the dot segments away)."""
    host, port = url.removeprefix("http://").split(":")
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status_line = sock.makefile("rb").readline().decode()
    return int(status_line.split()[1])


def test_nothing_outside_static_is_served(live: LiveApp) -> None:
    token = auth_header(sign())
    for path in ("/static/../pyproject.toml", "/static/%2e%2e/pyproject.toml", "/static/x/../../README.md"):
        assert raw_get(live.url, path) == 401
        assert raw_get(live.url, path, token) == 404
    assert raw_get(live.url, "/static/icon.png") == 200
