"""The Mattermost REST client against a scripted peer (httpx.MockTransport): requests it makes,
and how it reads Mattermost's answers and failures."""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from hello_jwt.mattermost import MattermostClient, MattermostError, retry_after

BOT = "b" * 26
USER = "u" * 26
TOKEN = "bot-token-9f3a"

Handler = Callable[[httpx.Request], httpx.Response]


def call(handler: Handler, method: str, *args: Any, site_url: str = "http://mm.test", **kwargs: Any) -> Any:
    async def run() -> Any:
        async with httpx.MockTransport(handler) as transport:
            client = MattermostClient(transport, site_url=site_url, token=TOKEN)
            return await getattr(client, method)(*args, **kwargs)

    return asyncio.run(run())


def failure(handler: Handler, method: str = "create_post") -> MattermostError:
    with pytest.raises(MattermostError) as caught:
        call(handler, method, "c" * 26, "hi", pending_post_id="p1")
    return caught.value


def test_direct_channel_posts_both_ids_as_the_bot() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"id": "c" * 26, "type": "D"})

    channel_id = call(handler, "create_direct_channel", BOT, USER, site_url="https://mm.test/chat/")

    assert channel_id == "c" * 26
    [request] = seen
    assert request.method == "POST"
    assert str(request.url) == "https://mm.test/chat/api/v4/channels/direct"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Host"] == "mm.test"
    assert "hello-jwt" in request.headers["User-Agent"]
    assert json.loads(request.content) == [BOT, USER]


def test_each_request_carries_its_timeout() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"id": "c" * 26})

    call(handler, "create_direct_channel", BOT, USER)
    call(handler, "create_post", "c" * 26, "hi", pending_post_id="p1", timeout=2.5)

    assert seen[0].extensions["timeout"] == {"connect": 5.0, "read": 10.0, "write": 10.0, "pool": 10.0}
    assert seen[1].extensions["timeout"] == {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}


def test_post_carries_the_pending_post_id() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(201, content=b"not even json")  # a 201 means the post exists

    call(handler, "create_post", "c" * 26, "JWT check ok", pending_post_id="p1")

    assert seen == [{"channel_id": "c" * 26, "message": "JWT check ok", "pending_post_id": "p1"}]


def test_an_app_error_keeps_its_id_and_request_id() -> None:
    body = {"id": "api.context.permissions.app_error", "message": "No permission.", "request_id": "r-body"}

    error = failure(lambda request: httpx.Response(403, json=body, headers={"X-Request-ID": "r-head"}))

    assert error.status_code == 403
    assert error.error_id == "api.context.permissions.app_error"
    assert error.request_id == "r-head"
    assert "No permission." in error.message
    assert error.channel_gone
    assert not error.retryable


def test_the_request_id_may_come_from_the_body_alone() -> None:
    error = failure(lambda request: httpx.Response(500, json={"id": "x", "message": "m", "request_id": "r-body"}))

    assert error.request_id == "r-body"


def test_a_plain_text_429_is_read_with_its_retry_after() -> None:
    headers = {"Retry-After": "2", "X-RateLimit-Reset": "7"}

    error = failure(lambda request: httpx.Response(429, text="limit exceeded\n", headers=headers))

    assert error.status_code == 429
    assert error.retry_after == 2.0
    assert error.retryable
    assert error.error_id is None
    assert "limit exceeded" in error.message


def test_a_channel_answer_without_an_id_is_an_error() -> None:
    with pytest.raises(MattermostError, match="no channel id"):
        call(lambda request: httpx.Response(201, json={}), "create_direct_channel", BOT, USER)


def test_no_answer_at_all_is_retryable_and_has_no_status() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    error = failure(handler)

    assert error.status_code is None
    assert error.retryable
    assert "ConnectError" in error.message


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(400, False), (401, False), (403, False), (404, False), (413, False), (429, True), (500, True), (503, True)],
)
def test_which_statuses_are_worth_a_retry(status: int, retryable: bool) -> None:
    assert MattermostError("x", status_code=status).retryable is retryable


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"Retry-After": "0.5"}, 0.5),
        ({"Retry-After": "-4"}, 0.0),
        ({"X-RateLimit-Reset": "4"}, 4.0),
        ({"Retry-After": "soon"}, None),
        ({"X-RateLimit-Reset": "later"}, None),
        ({}, None),
    ],
)
def test_retry_after_headers(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after(httpx.Response(429, headers=headers)) == expected


def test_retry_after_as_an_http_date() -> None:
    when = email.utils.formatdate(time.time() + 60, usegmt=True)

    seconds = retry_after(httpx.Response(429, headers={"Retry-After": when}))

    assert seconds is not None
    assert 50 < seconds <= 60
