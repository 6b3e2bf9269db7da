"""The Apps plugin emulator over real HTTP on 127.0.0.1: against small scripted apps (to show
what the plugin does with each kind of answer) and against ours."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from conftest import SECRET
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from hello_jwt.app import create_app
from hello_jwt.settings import Settings
from hello_jwt.testing import (
    HEAD,
    PROFILES,
    V1_2_0,
    V1_2_1,
    V1_2_2,
    AppsPlugin,
    CommandError,
    FakeMattermost,
    InstallError,
    serve,
)

Answer = Response | Callable[[Request], Awaitable[Response]]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def claims(self) -> dict[str, Any]:
        token = self.headers["mattermost-app-authorization"].removeprefix("Bearer ")
        segment = token.split(".")[1]
        decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
        return decoded


SEND_BINDINGS = [
    {
        "location": "/command",
        "bindings": [
            {
                "label": "demo",
                "bindings": [{"label": "send", "submit": {"path": "/send", "expand": {"acting_user": "+id"}}}],
            }
        ],
    }
]


@dataclass
class ScriptedApp:
    """A tiny app whose answers the test scripts; it records every request it gets."""

    manifest: dict[str, Any] = field(default_factory=dict)  # set when served; tests edit it in place
    answers: dict[str, Answer] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    url: str = ""

    def asgi(self, url: str) -> Starlette:
        self.url = url
        self.manifest = {
            "app_id": "demo",
            "version": "v1.0.0",
            "display_name": "Demo",
            "homepage_url": "https://example.com",
            "icon": "icon.png",
            "requested_permissions": ["act_as_bot"],
            "requested_locations": ["/command"],
            "http": {"root_url": url, "use_jwt": True},
        }

        async def handle(request: Request) -> Response:
            body = await request.body()
            self.seen.append(Seen(request.method, request.url.path, dict(request.headers), body))
            answer = self.answers.get(request.url.path) or self.default(request.url.path)
            return answer if isinstance(answer, Response) else await answer(request)

        return Starlette(routes=[Route("/{path:path}", handle, methods=["GET", "POST"])])

    def default(self, path: str) -> Response:
        if path == "/manifest.json":
            return JSONResponse(self.manifest)
        if path.startswith("/static/"):
            return Response(b"\x89PNG fake", media_type="image/png")
        if path == "/bindings":
            return JSONResponse({"type": "ok", "data": SEND_BINDINGS})
        if path in ("/ping", "/send"):
            return JSONResponse({"type": "ok", "text": f"{path} ok"})
        return Response("not found", status_code=404)

    def paths(self) -> list[str]:
        return [seen.path for seen in self.seen]

    def last(self, path: str) -> Seen:
        return [seen for seen in self.seen if seen.path == path][-1]


@dataclass
class Rig:
    mattermost: FakeMattermost
    app: ScriptedApp

    def plugin(self, profile: Any = V1_2_2) -> AppsPlugin:
        return AppsPlugin(self.mattermost, profile=profile)


@pytest.fixture
def rig() -> Iterator[Rig]:
    scripted = ScriptedApp()
    with FakeMattermost() as mattermost, serve(app_for_url=scripted.asgi):
        yield Rig(mattermost, scripted)


def slow(seconds: float, answer: Response) -> Answer:
    async def respond(request: Request) -> Response:
        await asyncio.sleep(seconds)
        return answer

    return respond


# --- install -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "order"),
    [
        (V1_2_0, ["/manifest.json", "/static/icon.png", "/ping", "/bindings"]),
        (V1_2_1, ["/manifest.json", "/ping", "/static/icon.png", "/bindings"]),
        (HEAD, ["/manifest.json", "/ping", "/static/icon.png", "/bindings"]),
    ],
)
def test_install_order_depends_on_the_plugin_version(rig: Rig, profile: Any, order: list[str]) -> None:
    with rig.plugin(profile) as plugin:
        app = plugin.install(f"{rig.app.url}/manifest.json", secret="s")

    assert rig.app.paths() == order
    assert app.install_message == "Installed app `demo`: Demo."
    assert app.bot.is_bot and app.bot.username == "demo"


def test_only_calls_carry_a_token_and_the_ping_has_a_zero_context(rig: Rig) -> None:
    with rig.plugin() as plugin:
        app = plugin.install(f"{rig.app.url}/manifest.json", secret="s")

    manifest, ping, icon, bindings = rig.app.seen
    assert "mattermost-app-authorization" not in manifest.headers
    assert "mattermost-app-authorization" not in icon.headers
    assert manifest.headers["user-agent"] == "Mattermost-Bot/1.1"
    zero_context = b'{"app_id":"","mattermost_site_url":"","app_path":"","bot_user_id":"","oauth2":{}}'
    assert ping.body == b'{"path":"/ping","context":' + zero_context + b"}"
    assert set(ping.claims()) == {"exp"}
    assert ping.headers["content-type"] == "application/json"
    # The reachability check after install: the admin's bindings call, with no expand.
    assert json.loads(bindings.body)["context"]["bot_user_id"] == app.bot.id
    assert "expand" not in json.loads(bindings.body)
    assert set(bindings.claims()) == {"exp"}


def test_on_install_replaces_the_bindings_check_and_its_text_is_shown(rig: Rig) -> None:
    rig.app.manifest["on_install"] = {"path": "/installed", "expand": {"acting_user": "summary"}}
    rig.app.answers["/installed"] = JSONResponse({"text": "Welcome!"})

    with rig.plugin() as plugin:
        app = plugin.install(f"{rig.app.url}/manifest.json", secret="s")
        admin = plugin.admin

    assert "/bindings" not in rig.app.paths()
    assert app.install_message == "Installed app `demo`: Demo.\n\nWelcome!"
    installed = rig.app.last("/installed")
    assert installed.claims()["acting_user_id"] == admin.id
    assert json.loads(installed.body)["context"]["acting_user"]["roles"] == "system_admin system_user"


def test_a_failing_bindings_check_does_not_fail_the_install(rig: Rig) -> None:
    rig.app.answers["/bindings"] = Response("kaput", status_code=500)

    with rig.plugin() as plugin:
        app = plugin.install(f"{rig.app.url}/manifest.json", secret="s")

    assert app.install_message == "Installed app `demo`: Demo., despite bindings failure: upstream call failed: kaput"


def test_without_locations_there_is_no_bindings_call(rig: Rig) -> None:
    del rig.app.manifest["requested_locations"]

    with rig.plugin() as plugin:
        plugin.install(f"{rig.app.url}/manifest.json", secret="s")

    assert "/bindings" not in rig.app.paths()


@pytest.mark.parametrize(
    ("answer", "passes"),
    [
        (JSONResponse({"type": "ok"}), True),
        (JSONResponse({"type": "error", "text": "the type is not looked at"}), True),
        (Response("gone", status_code=404), True),
        (Response("", status_code=200), False),
        (Response("pong", status_code=200), False),
        (Response(status_code=204), False),
        (JSONResponse({"type": "ok"}, status_code=201), False),
        (Response("Unauthorized: bad signature", status_code=401), False),
    ],
)
def test_what_counts_as_a_passing_ping(rig: Rig, answer: Response, passes: bool) -> None:
    rig.app.answers["/ping"] = answer
    with rig.plugin() as plugin:
        if passes:
            plugin.install(f"{rig.app.url}/manifest.json", secret="s")
        else:
            with pytest.raises(InstallError, match=r"^failed to install, /ping path is not accessible: "):
                plugin.install(f"{rig.app.url}/manifest.json", secret="s")
    assert (rig.mattermost.user_by_username("demo") is not None) == passes


def test_v1_2_0_aborts_silently_when_the_ping_fails(rig: Rig) -> None:
    rig.app.answers["/ping"] = Response("Unauthorized", status_code=401)

    with rig.plugin(V1_2_0) as plugin, pytest.raises(InstallError) as caught:
        plugin.install(f"{rig.app.url}/manifest.json", secret="wrong")

    assert caught.value.response == {"type": "ok", "text": ""}  # what the admin sees
    assert "Unauthorized" in str(caught.value)
    assert rig.mattermost.user_by_username("demo") is None
    assert rig.app.paths() == ["/manifest.json", "/static/icon.png", "/ping"]


def test_the_ping_deadline_is_1_s_in_v1_2_0_and_2_s_later(rig: Rig) -> None:
    rig.app.answers["/ping"] = slow(1.4, JSONResponse({"type": "ok"}))

    with rig.plugin(V1_2_0) as plugin, pytest.raises(InstallError, match="context deadline exceeded"):
        plugin.install(f"{rig.app.url}/manifest.json", secret="s")
    with rig.plugin(V1_2_1) as plugin:
        plugin.install(f"{rig.app.url}/manifest.json", secret="s")

    rig.app.answers["/ping"] = slow(2.4, JSONResponse({"type": "ok"}))
    with rig.plugin(V1_2_1) as plugin, pytest.raises(InstallError, match="context deadline exceeded"):
        plugin.install(f"{rig.app.url}/manifest.json", secret="s")


def test_the_emulator_rejects_what_the_plugin_rejects(rig: Rig) -> None:
    with rig.plugin(V1_2_2) as plugin:
        rig.app.answers["/manifest.json"] = JSONResponse({**rig.app.manifest, "display_name": ""})
        with pytest.raises(InstallError, match="display_name is empty"):
            plugin.install(f"{rig.app.url}/manifest.json", secret="s")

        rig.app.answers["/manifest.json"] = JSONResponse({**rig.app.manifest, "icon": "../icon.png"})
        with pytest.raises(InstallError, match=re.escape("invalid icon path '../icon.png'")):
            plugin.install(f"{rig.app.url}/manifest.json", secret="s")
        assert not any(path.startswith("/static/") for path in rig.app.paths())

        del rig.app.answers["/manifest.json"]
        app = plugin.install(f"{rig.app.url}/manifest.json", secret="s")
        alice = rig.mattermost.add_user("alice")
        spaced = json.loads(json.dumps(SEND_BINDINGS).replace('"label": "send"', '"label": "send now"'))
        rig.app.answers["/bindings"] = JSONResponse({"type": "ok", "data": spaced})
        fetched = plugin.fetch_bindings(app, alice)
        assert fetched.bindings == []
        assert 'command label "send now" has multiple words' in fetched.problems
        with pytest.raises(CommandError):
            plugin.run_command(app, alice, "/demo send now")
    assert "/send" not in rig.app.paths()


def test_v1_2_0_accepts_a_manifest_without_display_name(rig: Rig) -> None:
    del rig.app.manifest["display_name"]

    with rig.plugin(V1_2_0) as plugin:
        app = plugin.install(f"{rig.app.url}/manifest.json", secret="s")

    assert app.app_id == "demo"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (Response("x" * (1024 * 1024 + 1), media_type="application/json"), "size limit of 1024Kb exceeded"),
        (Response("down", status_code=503), "received status 503: down"),
        (Response("{not json"), "failed to decode manifest"),
    ],
)
def test_manifest_fetch_failures(rig: Rig, answer: Response, message: str) -> None:
    rig.app.answers["/manifest.json"] = answer

    with rig.plugin() as plugin, pytest.raises(InstallError, match=message):
        plugin.install(f"{rig.app.url}/manifest.json", secret="s")


def test_a_missing_icon_fails_the_install(rig: Rig) -> None:
    rig.app.answers["/static/icon.png"] = Response("no", status_code=404)

    with rig.plugin() as plugin, pytest.raises(InstallError, match=r"^failed to get bot icon: failed to download icon"):
        plugin.install(f"{rig.app.url}/manifest.json", secret="s")


def test_consent_is_needed_when_the_app_asks_for_anything(rig: Rig) -> None:
    with rig.plugin() as plugin, pytest.raises(InstallError, match="consent to use APIs and locations is required"):
        plugin.install(f"{rig.app.url}/manifest.json", secret="s", consent=False)


def test_a_user_owning_the_bot_name_fails_v1_2_0_and_renames_later(rig: Rig) -> None:
    rig.mattermost.add_user("demo")

    with rig.plugin(V1_2_0) as plugin, pytest.raises(InstallError, match="already owns the username 'demo'"):
        plugin.install(f"{rig.app.url}/manifest.json", secret="s")
    with rig.plugin(V1_2_1) as plugin:
        assert plugin.install(f"{rig.app.url}/manifest.json", secret="s").bot.username == "demo-app"


def test_reinstalling_with_a_blank_secret_keeps_the_bot_and_the_secret(rig: Rig) -> None:
    with rig.plugin() as plugin:
        first = plugin.install(f"{rig.app.url}/manifest.json", secret="kept")
        second = plugin.install(f"{rig.app.url}/manifest.json", secret="")

    assert second.bot == first.bot
    assert second.secret == "kept"


# --- calls ---------------------------------------------------------------------------------


@pytest.fixture
def installed(rig: Rig) -> Iterator[tuple[Rig, AppsPlugin, Any]]:
    with rig.plugin() as plugin:
        yield rig, plugin, plugin.install(f"{rig.app.url}/manifest.json", secret="s")


def test_a_command_call_is_encoded_as_the_go_plugin_encodes_it(installed: tuple[Rig, AppsPlugin, Any]) -> None:
    rig, plugin, app = installed
    alice = rig.mattermost.add_user("alice")

    result = plugin.run_command(app, alice, "/demo send")

    assert result.status_code == 200
    assert result.response == {
        "type": "ok",
        "text": "/send ok",
        "app_metadata": {"bot_user_id": app.bot.id, "bot_username": "demo"},
    }
    send = rig.app.last("/send")
    assert send.body.decode() == (
        '{"path":"/send","expand":{"acting_user":"+id"},"context":{"app_id":"",'
        f'"mattermost_site_url":"{rig.mattermost.url}","developer_mode":true,"app_path":"/plugins/com.mattermost.apps/apps/demo",'
        f'"bot_user_id":"{app.bot.id}","bot_access_token":"{app.bot.token}",'
        f'"acting_user":{{"id":"{alice.id}","delete_at":0,"username":"","auth_service":"","email":"","nickname":"",'
        '"first_name":"","last_name":"","position":"","roles":"","locale":"","timezone":null,"disable_welcome_email":false},'
        '"oauth2":{}},"raw_command":"/demo send"}'
    )
    assert set(send.claims()) == {"exp", "acting_user_id"}
    assert send.claims()["acting_user_id"] == alice.id


def test_head_forwards_the_user_agent_and_track_as_submit(rig: Rig) -> None:
    alice = rig.mattermost.add_user("alice")
    forwarded = {"user_agent": "webapp", "track_as_submit": True}
    for profile, expected in ((V1_2_2, {}), (HEAD, forwarded)):
        with rig.plugin(profile) as plugin:
            app = plugin.install(f"{rig.app.url}/manifest.json", secret="s")
            plugin.run_command(app, alice, "/demo send")
        context = json.loads(rig.app.last("/send").body)["context"]
        assert list(context)[: 2 + len(expected)] == ["app_id", *expected, "mattermost_site_url"]
        assert {key: context[key] for key in forwarded if key in context} == expected


def test_without_expand_the_token_has_only_exp_and_there_is_no_acting_user(
    installed: tuple[Rig, AppsPlugin, Any],
) -> None:
    rig, plugin, app = installed
    data = json.loads(json.dumps(SEND_BINDINGS).replace(', "expand": {"acting_user": "+id"}', ""))
    rig.app.answers["/bindings"] = JSONResponse({"type": "ok", "data": data})

    plugin.run_command(app, rig.mattermost.add_user("alice"), "/demo send")

    send = rig.app.last("/send")
    assert set(send.claims()) == {"exp"}
    body = json.loads(send.body)
    assert body["expand"] == {}
    assert "acting_user" not in body["context"]


def test_form_bindings_send_typed_values_to_form_submit(installed: tuple[Rig, AppsPlugin, Any]) -> None:
    rig, plugin, app = installed
    form = {
        "title": "Send",
        "submit": {"path": "/send", "expand": {"acting_user": "+id"}},
        "fields": [{"name": "message", "label": "message", "type": "text"}, {"name": "b", "type": "text"}],
    }
    data = [{"location": "/command", "bindings": [{"label": "demo", "bindings": [{"label": "send", "form": form}]}]}]
    rig.app.answers["/bindings"] = JSONResponse({"type": "ok", "data": data})

    plugin.run_command(app, rig.mattermost.add_user("alice"), '/demo send --message "hi there" --b x')

    body = rig.app.last("/send").body.decode()
    assert '"values":{"b":"x","message":"hi there"},"context":' in body  # a Go map: keys sorted
    assert body.endswith('"raw_command":"/demo send --message \\"hi there\\" --b x"}')


def test_a_modal_submission_carries_values_but_no_raw_command(installed: tuple[Rig, AppsPlugin, Any]) -> None:
    rig, plugin, app = installed
    form = {"submit": {"path": "/send", "expand": {"acting_user": "+id"}}, "fields": [{"name": "message"}]}

    result = plugin.submit_form(app, rig.mattermost.add_user("alice"), form, {"message": "hello <you>"})

    assert result.ok
    body = rig.app.last("/send").body.decode()
    assert '"values":{"message":"hello \\u003cyou\\u003e"}' in body
    assert "raw_command" not in body


class Dropped(Response):
    """Starts an answer, then closes the connection: what a crashing Go handler looks like."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]})
        raise ConnectionResetError("dropped on purpose")


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        (Response("Internal Server Error", status_code=500), "upstream call failed: Internal Server Error"),
        (
            JSONResponse({"type": "ok", "text": "created"}, status_code=201),
            'upstream call failed: {"type":"ok","text":"created"}',
        ),
        (Response("", status_code=200), "upstream call failed: EOF"),
        (Response("ok", status_code=200), "upstream call failed: invalid character 'o' looking for beginning of value"),
        (
            JSONResponse(["ok"]),
            "upstream call failed: json: cannot unmarshal list into Go value of type apps.CallResponse",
        ),
    ],
)
def test_what_the_plugin_makes_of_bad_answers(
    installed: tuple[Rig, AppsPlugin, Any], answer: Response, text: str
) -> None:
    rig, plugin, app = installed
    rig.app.answers["/send"] = answer

    result = plugin.run_command(app, rig.mattermost.add_user("alice"), "/demo send")

    assert result.response["type"] == "error"
    assert result.response["text"] == text
    assert result.user_sees() == f"an error under the message box: {text}"


def test_a_404_names_the_url(installed: tuple[Rig, AppsPlugin, Any]) -> None:
    rig, plugin, app = installed
    rig.app.answers["/send"] = Response("nope", status_code=404)

    result = plugin.run_command(app, rig.mattermost.add_user("alice"), "/demo send")

    assert result.response["text"] == f"upstream call failed: {rig.app.url}/send: not found"


def test_an_empty_type_is_ok_and_unknown_keys_are_dropped(installed: tuple[Rig, AppsPlugin, Any]) -> None:
    rig, plugin, app = installed
    rig.app.answers["/send"] = JSONResponse({"text": "done", "extra": 1})

    result = plugin.run_command(app, rig.mattermost.add_user("alice"), "/demo send")

    assert result.response["type"] == "ok"
    assert "extra" not in result.response
    assert result.user_sees() == "an ephemeral post from the app's bot: done"


def test_a_connection_closed_without_an_answer_is_eof(installed: tuple[Rig, AppsPlugin, Any]) -> None:
    rig, plugin, app = installed
    rig.app.answers["/send"] = Dropped()

    result = plugin.run_command(app, rig.mattermost.add_user("alice"), "/demo send")

    assert result.status_code is None
    prefix = f'upstream call failed: failed to invoke via HTTP: Post "{rig.app.url}/send": '
    assert result.response["text"] in (prefix + "EOF", prefix + "read: connection reset by peer")


def test_a_failed_required_expansion_never_reaches_the_app(installed: tuple[Rig, AppsPlugin, Any]) -> None:
    rig, plugin, app = installed
    before = len(rig.app.seen)

    result = plugin.call(app, rig.mattermost.add_user("alice"), {"path": "/send", "expand": {"channel": "+all"}})
    bad_level = plugin.call(app, rig.mattermost.add_user("bob"), {"path": "/send", "expand": {"acting_user": "none"}})

    assert result.response["text"].startswith("failed to expand context: failed to expand required channel: ")
    assert bad_level.response["text"] == 'failed to expand context: "none" is not a known expand level'
    assert len(rig.app.seen) == before


def test_users_may_call_the_ping_path_only_before_v1_2_1(rig: Rig) -> None:
    alice = rig.mattermost.add_user("alice")
    with rig.plugin(V1_2_0) as plugin:
        app = plugin.install(f"{rig.app.url}/manifest.json", secret="s")
        assert plugin.call(app, alice, "/ping").ok
    with rig.plugin(V1_2_1) as plugin:
        app = plugin.install(f"{rig.app.url}/manifest.json", secret="s")
        assert plugin.call(app, alice, "/ping").response["text"] == "forbidden call path"
        assert plugin.call(app, alice, "/../x").response["text"] == "invalid call path: '/../x'"


# --- our app -------------------------------------------------------------------------------


@pytest.mark.parametrize("version", sorted(PROFILES))
def test_every_plugin_version_installs_our_app_and_delivers_the_dm(settings: Settings, version: str) -> None:
    with (
        FakeMattermost() as mattermost,
        serve(app_for_url=lambda url: create_app(replace(settings, root_url=url))) as url,
        AppsPlugin(mattermost, profile=version) as plugin,
    ):
        app = plugin.install(f"{url}/manifest.json", secret=SECRET)
        alice = mattermost.add_user("alice")
        fetched = plugin.fetch_bindings(app, alice)

        result = plugin.run_command(app, alice, "/hello-jwt send")

        assert fetched.problems == []
        assert app.install_message == "Installed app `hello-jwt`: Hello, JWT!."
        assert result.status_code == 200
        assert result.ok
        [post] = mattermost.wait_for_posts(1)
    assert post["message"] == "JWT check ok"
    assert post["user_id"] == app.bot.id
