"""Call an ASGI app with a hand-built http scope: any header bytes and any path/root_path pair,
which an HTTP client would refuse to send or would normalise first."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message


async def acall(
    app: ASGIApp, path: str = "/", headers: Iterable[tuple[bytes, bytes]] = (), *, root_path: str = ""
) -> tuple[int, bytes]:
    """(status, body) of one GET request."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": root_path,
        "query_string": b"",
        "headers": list(headers),
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    [start] = [message for message in sent if message["type"] == "http.response.start"]
    body = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
    return start["status"], body


def call(
    app: ASGIApp, path: str = "/", headers: Iterable[tuple[bytes, bytes]] = (), *, root_path: str = ""
) -> tuple[int, bytes]:
    return asyncio.run(acall(app, path, headers, root_path=root_path))
