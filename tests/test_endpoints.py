"""The app in-process: public routes, the token gate in front of every other route, and what
each endpoint answers. Delivery to Mattermost is checked end to end in test_e2e.py."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import auth_header, sign
from rejections import REJECTED
from starlette.testclient import TestClient

from hello_jwt.app import create_app
from hello_jwt.bindings import MESSAGE_MAX_LENGTH
from hello_jwt.endpoints import dm_text
from hello_jwt.settings import Settings

USER_ID = "u" * 26
BOT_ID = "b" * 26


def send_body(**context: Any) -> dict[str, Any]:
    base = {
        "app_id": "",
        "mattermost_site_url": "http://mattermost.test",
        "app_path": "/plugins/com.mattermost.apps/apps/hello-jwt",
        "bot_user_id": BOT_ID,
        "bot_access_token": "bot-token",
        "acting_user": {"id": USER_ID},
        "oauth2": {},
    }
    base.update(context)
    return {
        "path": "/send",
        "expand": {"acting_user": "+id"},
        "context": {k: v for k, v in base.items() if v is not None},
    }


def user_token(user_id: str = USER_ID) -> dict[str, str]:
    return auth_header(sign({"exp": int(time.time()) + 900, "acting_user_id": user_id}))


class Recorder:
    """A scripted Mattermost behind httpx.MockTransport: records what the app sends."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/channels/direct"):
            return httpx.Response(201, json={"id": "c" * 26})
        return httpx.Response(201, json={"id": "p" * 26})


@pytest.fixture
def mattermost() -> Recorder:
    return Recorder()


@pytest.fixture
def app_client(settings: Settings, mattermost: Recorder) -> Iterator[TestClient]:
    app = create_app(settings, transport=httpx.MockTransport(mattermost))
    with TestClient(app) as test_client:
        yield test_client


PROTECTED_ROUTES = ["/ping", "/bindings", "/send", "/nowhere"]


@pytest.mark.parametrize("path", PROTECTED_ROUTES)
@pytest.mark.parametrize(("case", "headers"), REJECTED, ids=[case for case, _ in REJECTED])
def test_every_bad_token_is_refused_before_any_endpoint_runs(
    app_client: TestClient, mattermost: Recorder, case: str, headers: list[tuple[str, str]], path: str
) -> None:
    raw_headers = [(name.encode(), value.encode("latin-1")) for name, value in headers]
    response = app_client.post(path, json=send_body(), headers=raw_headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.text.startswith("Unauthorized: ")
    assert len(response.text) < 100
    assert mattermost.requests == []


def test_a_token_whose_only_claim_is_exp_opens_ping(client: TestClient) -> None:
    response = client.post("/ping", json={"path": "/ping", "context": {}}, headers=auth_header(sign()))

    assert response.status_code == 200
    assert response.json() == {"type": "ok"}


@pytest.mark.parametrize("path", ["/manifest.json", "/static/icon.png"])
def test_public_routes_need_no_token(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/ping"),
        ("POST", "/bindings"),
        ("POST", "/send"),
        ("GET", "/manifest.json/"),
        ("GET", "/manifest.jsonx"),
        ("GET", "/Manifest.json"),
        ("GET", "/static/icon.png.bak"),
        ("GET", "/static/"),
        ("GET", "/nowhere"),
        ("GET", "/"),
    ],
)
def test_everything_else_needs_a_token(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path)

    assert response.status_code == 401


def test_unknown_route_with_a_token_is_404(client: TestClient) -> None:
    assert client.post("/nowhere", headers=auth_header(sign())).status_code == 404


def test_bindings_offer_the_send_form_on_the_command_and_the_channel_header(client: TestClient) -> None:
    response = client.post(
        "/bindings", json={"path": "/bindings", "context": {"app_id": ""}}, headers=auth_header(sign())
    )

    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "ok"
    command, header = body["data"]
    assert command["location"] == "/command"
    [hello] = command["bindings"]
    assert (hello["label"], hello["icon"], hello["hint"]) == ("hello-jwt", "icon.png", "[send]")
    assert hello["description"]
    [send] = hello["bindings"]
    assert send["label"] == "send"
    assert "submit" not in send
    assert send["form"]["submit"] == {"path": "/send", "expand": {"acting_user": "+id"}}
    assert [field["name"] for field in send["form"]["fields"]] == ["message"]
    assert header["location"] == "/channel_header"
    [button] = header["bindings"]
    assert button["icon"] == "icon.png"
    assert button["form"] == send["form"]


def test_send_accepts_and_queues_one_dm_to_the_token_user(app_client: TestClient, mattermost: Recorder) -> None:
    response = app_client.post("/send", json=send_body(), headers=user_token())

    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "ok"
    # The DM is not posted yet when /send answers: the text must not claim it was.
    assert "created" not in body["text"].lower()


def test_send_ignores_unknown_keys_and_an_empty_expand(app_client: TestClient) -> None:
    body = send_body(user_agent="webapp", track_as_submit=True, something_new={"x": 1})
    body.update(expand={}, raw_command="/hello-jwt send", future_field=[1, 2])

    response = app_client.post("/send", json=body, headers=user_token())

    assert response.status_code == 200
    assert response.json()["type"] == "ok"


def test_send_to_the_token_user_when_the_body_omits_acting_user(app_client: TestClient) -> None:
    response = app_client.post("/send", json=send_body(acting_user=None), headers=user_token())

    assert response.status_code == 200


BAD_SEND_BODIES: list[tuple[str, bytes | dict[str, Any], str]] = [
    ("not json", b"{not json", "not JSON"),
    ("not utf-8", b"\xff\xfe\x00", "not JSON"),
    ("json array", b"[1, 2]", "not a JSON object"),
    ("json string", b'"hello"', "not a JSON object"),
    ("json nested too deep", b"[" * 100_000 + b"]" * 100_000, "not JSON"),
    ("no context", {"path": "/send"}, "no context"),
    ("context not an object", {"context": "x"}, "no context"),
    ("no site url", send_body(mattermost_site_url=None), "mattermost_site_url is missing"),
    ("site url not http", send_body(mattermost_site_url="ftp://mm"), "not an http(s) URL"),
    ("site url unclosed ipv6", send_body(mattermost_site_url="http://[::1"), "not a valid URL"),
    ("site url port out of range", send_body(mattermost_site_url="http://mm:99999"), "not a valid URL"),
    ("site url with credentials", send_body(mattermost_site_url="http://u:p@mm"), "plain site URL"),
    ("site url with a space", send_body(mattermost_site_url="http://mm/a b"), "plain site URL"),
    ("site url with a query", send_body(mattermost_site_url="http://mm/?x=1"), "plain site URL"),
    ("no bot token", send_body(bot_access_token=None), "bot_access_token is missing"),
    ("empty bot token", send_body(bot_access_token=""), "bot_access_token is missing"),
    ("bot token with a line break", send_body(bot_access_token="abc\r\nX-Evil: 1"), "bot_access_token is not a token"),
    ("bot token not ascii", send_body(bot_access_token="tøken"), "bot_access_token is not a token"),
    ("no bot user id", send_body(bot_user_id=None), "bot_user_id is missing"),
    ("bad bot user id", send_body(bot_user_id="bot"), "not a Mattermost id"),
    ("acting user without id", send_body(acting_user={"username": "x"}), "acting_user has no id"),
    ("values not an object", {**send_body(), "values": [1]}, "values must be a JSON object"),
]


@pytest.mark.parametrize(("case", "body", "reason"), BAD_SEND_BODIES, ids=[case for case, _, _ in BAD_SEND_BODIES])
def test_send_refuses_bad_input_with_a_clear_400_and_no_dm(
    app_client: TestClient, mattermost: Recorder, case: str, body: bytes | dict[str, Any], reason: str
) -> None:
    content = body if isinstance(body, bytes) else None
    payload = None if isinstance(body, bytes) else body
    response = app_client.post("/send", content=content, json=payload, headers=user_token())

    assert response.status_code == 400
    assert response.json()["type"] == "error"
    assert reason in response.json()["text"]
    assert mattermost.requests == []


def test_send_refuses_an_over_large_body_unread_with_413(app_client: TestClient, mattermost: Recorder) -> None:
    body = {**send_body(), "values": {"padding": "x" * (300 * 1024)}}

    response = app_client.post("/send", json=body, headers=user_token())

    assert response.status_code == 413
    assert response.json()["type"] == "error"
    assert "over 256 KiB" in response.json()["text"]
    assert mattermost.requests == []


def test_send_stops_reading_a_chunked_body_past_the_limit(app_client: TestClient, mattermost: Recorder) -> None:
    chunks = iter([b'{"padding": "', *[b"x" * 65536] * 8, b'"}'])  # no Content-Length: sent chunked

    response = app_client.post("/send", content=chunks, headers={**user_token(), "Content-Type": "application/json"})

    assert response.status_code == 413
    assert mattermost.requests == []


def test_send_refuses_a_body_naming_another_user_than_the_token(app_client: TestClient, mattermost: Recorder) -> None:
    response = app_client.post("/send", json=send_body(acting_user={"id": "o" * 26}), headers=user_token())

    assert response.status_code == 403
    assert response.json() == {"type": "error", "text": "the acting user does not match the token"}
    assert mattermost.requests == []


def test_send_refuses_a_body_user_the_token_does_not_name(app_client: TestClient, mattermost: Recorder) -> None:
    response = app_client.post("/send", json=send_body(), headers=auth_header(sign()))

    assert response.status_code == 403
    assert response.json()["type"] == "error"
    assert mattermost.requests == []


def test_send_without_any_acting_user_explains_the_missing_expand(app_client: TestClient, mattermost: Recorder) -> None:
    response = app_client.post("/send", json=send_body(acting_user=None), headers=auth_header(sign()))

    assert response.status_code == 400
    assert "expand acting_user" in response.json()["text"]
    assert mattermost.requests == []


BAD_MESSAGES: list[tuple[str, Any, str]] = [
    ("too long", "x" * (MESSAGE_MAX_LENGTH + 1), "is too long"),
    ("too long after trimming", " " + "é" * (MESSAGE_MAX_LENGTH + 1), "is too long"),
    ("a number", 42, "must be text"),
    ("true", True, "must be text"),
    ("a select option", {"label": "hi", "value": "hi"}, "must be text"),
    ("a list", ["hi"], "must be text"),
    ("a newline", "hi\nthere", "without control characters"),
    ("a carriage return", "hi\r", "without control characters"),
    ("a tab", "hi\tthere", "without control characters"),
    ("a nul", "hi\x00", "without control characters"),
    ("an escape sequence", "\x1b[31mred", "without control characters"),
    ("a C1 control", "hi\x85", "without control characters"),
    ("a line separator", "hi\u2028there", "without control characters"),
    ("a lone surrogate", "hi\ud800", "without control characters"),
    ("a right-to-left override", "hi \u202egnp.exe", "without control characters"),
    ("a bidi isolate", "hi \u2066there", "without control characters"),
]


@pytest.mark.parametrize(("case", "message", "reason"), BAD_MESSAGES, ids=[case for case, _, _ in BAD_MESSAGES])
def test_send_refuses_a_bad_message_naming_the_field_and_sends_no_dm(
    app_client: TestClient, mattermost: Recorder, case: str, message: Any, reason: str
) -> None:
    body = {**send_body(), "values": {"message": message}}
    # ensure_ascii: a lone surrogate can only travel as a JSON escape, as Go's encoder would send it.
    content = json.dumps(body, ensure_ascii=True).encode()

    response = app_client.post("/send", content=content, headers={**user_token(), "Content-Type": "application/json"})

    # 200, so that the plugin passes the CallResponse on instead of "upstream call failed: <body>".
    assert response.status_code == 200
    answer = response.json()
    assert answer["type"] == "error"
    assert answer["text"].startswith("message ")
    assert reason in answer["text"]
    assert answer["data"] == {"errors": {"message": answer["text"]}}
    assert mattermost.requests == []


@pytest.mark.parametrize(
    ("message", "text"),
    [
        (None, "JWT check ok"),
        ("hi there", "JWT check ok\n\nhi there"),
        ("%s {0} %(name)s", "JWT check ok\n\n%s {0} %(name)s"),
    ],
)
def test_the_dm_text_is_the_check_result_then_the_message_verbatim(message: str | None, text: str) -> None:
    assert dm_text(message) == text
