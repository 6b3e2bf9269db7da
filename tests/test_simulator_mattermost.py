"""The fake Mattermost REST server, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from hello_jwt.testing import FakeMattermost, Fault, User

ERROR_KEYS = {"id", "message", "detailed_error", "request_id", "status_code"}


@dataclass
class Server:
    mattermost: FakeMattermost
    http: httpx.Client
    bot: User
    alice: User
    now: list[float]

    def as_bot(self, scheme: str = "Bearer") -> dict[str, str]:
        return {"Authorization": f"{scheme} {self.bot.token}"}

    def dm_channel(self) -> str:
        response = self.http.post("/api/v4/channels/direct", json=[self.bot.id, self.alice.id], headers=self.as_bot())
        assert response.status_code == 201
        return str(response.json()["id"])

    def post(self, channel_id: str, message: str = "hi", **extra: str) -> httpx.Response:
        body = {"channel_id": channel_id, "message": message, **extra}
        return self.http.post("/api/v4/posts", json=body, headers=self.as_bot())


@pytest.fixture
def server() -> Iterator[Server]:
    now = [1000.0]
    with FakeMattermost(clock=lambda: now[0]) as mattermost, httpx.Client(base_url=mattermost.url) as http:
        bot = mattermost.add_user("hello-jwt", is_bot=True)
        yield Server(mattermost, http, bot, mattermost.add_user("alice"), now)


def assert_app_error(response: httpx.Response, status: int, error_id: str) -> None:
    assert response.status_code == status
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert (body["id"], body["status_code"]) == (error_id, status)
    assert response.headers["X-Request-ID"] == body["request_id"]


@pytest.mark.parametrize("scheme", ["Bearer", "BEARER", "bearer", "token", "Token"])
def test_the_bot_token_is_accepted_with_either_scheme(server: Server, scheme: str) -> None:
    response = server.http.get("/api/v4/users/me", headers=server.as_bot(scheme))

    assert response.status_code == 200
    assert response.json()["id"] == server.bot.id
    assert response.json()["is_bot"] is True


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer not-a-token", "Basic abc", "BearerX {token}", "{token}"],
)
def test_requests_without_a_valid_token_get_401(server: Server, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization.format(token=server.bot.token)}

    response = server.http.get("/api/v4/users/me", headers=headers)

    assert_app_error(response, 401, "api.context.session_expired.app_error")


def test_users_by_id(server: Server) -> None:
    found = server.http.get(f"/api/v4/users/{server.alice.id}", headers=server.as_bot())
    missing = server.http.get(f"/api/v4/users/{'x' * 26}", headers=server.as_bot())

    assert found.status_code == 200
    assert found.json()["username"] == "alice"
    assert_app_error(missing, 404, "app.user.missing_account.const")


def test_unknown_routes_answer_with_app_error_json(server: Server) -> None:
    assert_app_error(server.http.get("/api/v4/nowhere", headers=server.as_bot()), 404, "api.context.404.app_error")


def test_the_same_pair_always_gets_the_same_direct_channel(server: Server) -> None:
    first = server.dm_channel()
    again = server.http.post("/api/v4/channels/direct", json=[server.alice.id, server.bot.id], headers=server.as_bot())

    assert again.status_code == 201
    assert again.json()["id"] == first
    assert again.json()["type"] == "D"


@pytest.mark.parametrize(
    ("body", "status", "error_id"),
    [
        ("not a list", 400, "api.context.invalid_body_param.app_error"),
        (["only-one"], 400, "api.context.invalid_body_param.app_error"),
        (["short", "ids"], 400, "api.context.invalid_body_param.app_error"),
        ("x26", 403, "api.context.permissions.app_error"),  # the caller is not one of the two
        ("unknown", 400, "api.channel.create_direct_channel.invalid_user.app_error"),
    ],
)
def test_bad_direct_channel_requests(server: Server, body: object, status: int, error_id: str) -> None:
    if body == "x26":
        body = [server.alice.id, "x" * 26]
    elif body == "unknown":
        body = [server.bot.id, "y" * 26]

    response = server.http.post("/api/v4/channels/direct", json=body, headers=server.as_bot())

    assert_app_error(response, status, error_id)


def test_a_post_is_created_and_recorded(server: Server) -> None:
    channel_id = server.dm_channel()

    response = server.post(channel_id, "JWT check ok")

    assert response.status_code == 201
    assert response.json()["user_id"] == server.bot.id
    assert server.mattermost.posts == [response.json()]
    assert server.mattermost.dms_to(server.alice.id) == [response.json()]
    assert [(r.method, r.path, r.status) for r in server.mattermost.requests] == [
        ("POST", "/api/v4/channels/direct", 201),
        ("POST", "/api/v4/posts", 201),
    ]
    assert server.mattermost.requests[1].body == {"channel_id": channel_id, "message": "JWT check ok"}


@pytest.mark.parametrize(
    ("message", "status", "error_id"),
    [("", 400, "model.post.is_valid.msg.app_error"), ("   ", 400, "model.post.is_valid.msg.app_error")],
)
def test_an_empty_message_is_refused(server: Server, message: str, status: int, error_id: str) -> None:
    assert_app_error(server.post(server.dm_channel(), message), status, error_id)
    assert server.mattermost.posts == []


def test_a_post_to_an_unknown_channel_is_refused(server: Server) -> None:
    assert_app_error(server.post("z" * 26), 404, "app.channel.get.existing.app_error")


def test_a_repeated_pending_post_id_within_30_s_returns_the_first_post(server: Server) -> None:
    channel_id = server.dm_channel()

    first = server.post(channel_id, pending_post_id="p1")
    server.now[0] += 29
    again = server.post(channel_id, pending_post_id="p1")
    other = server.post(channel_id, pending_post_id="p2")
    server.now[0] += 2
    late = server.post(channel_id, pending_post_id="p1")

    assert again.status_code == 201
    assert again.json() == first.json()
    assert other.json()["id"] != first.json()["id"]
    assert late.json()["id"] != first.json()["id"]
    assert len(server.mattermost.posts) == 3


def test_leading_429s_carry_retry_after_and_rate_limit_headers(server: Server) -> None:
    channel_id = server.dm_channel()
    server.mattermost.inject(Fault(count=2, status=429, path="/posts", retry_after=3))

    answers = [server.post(channel_id) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [429, 429, 201]
    limited = answers[0]
    assert limited.text == "limit exceeded\n"
    assert limited.headers["Retry-After"] == "3"
    assert limited.headers["X-RateLimit-Limit"] == "10"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["X-RateLimit-Reset"] == "3"
    assert len(server.mattermost.posts) == 1


def test_5xx_faults_answer_app_error_json_and_only_where_asked(server: Server) -> None:
    server.mattermost.inject(Fault(count=1, status=503, path="/posts"))
    channel_id = server.dm_channel()  # not a /posts request: no fault

    assert_app_error(server.post(channel_id), 503, "fake.fault_injected.app_error")
    assert server.post(channel_id).status_code == 201


def test_a_delay_fault_holds_the_answer(server: Server) -> None:
    channel_id = server.dm_channel()
    server.mattermost.inject(Fault(count=1, status=502, path="/posts", delay=0.3))

    started = time.monotonic()
    response = server.post(channel_id)

    assert response.status_code == 502
    assert time.monotonic() - started >= 0.3


def test_a_dropped_connection_gives_no_answer(server: Server) -> None:
    channel_id = server.dm_channel()
    server.mattermost.inject(Fault(count=1, path="/posts", drop=True))

    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        server.post(channel_id)
    assert server.post(channel_id).status_code == 201
    assert len(server.mattermost.posts) == 1


def test_wait_for_posts_returns_once_they_exist(server: Server) -> None:
    server.post(server.dm_channel())

    assert len(server.mattermost.wait_for_posts(1, timeout=1)) == 1
    assert len(server.mattermost.wait_for_posts(2, timeout=0.05)) == 1  # gives up, returns what there is
