"""Verifications per second of hello_jwt.auth, called as a bare ASGI app around a no-op app, for
a valid token and for rejected ones. Each case runs at most MAX_CALLS calls or MAX_SECONDS."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from jose import jwt
from starlette.types import Message, Receive, Scope, Send

from hello_jwt.auth import JWTAuthMiddleware

MAX_CALLS = 50_000
MAX_SECONDS = 1.5
SECRET = "bench-secret-6d5c4b3a"
HEADER = b"mattermost-app-authorization"


def _token(claims: dict[str, Any] | None = None, secret: str = SECRET) -> bytes:
    claims = {"exp": int(time.time()) + 3600, "acting_user_id": "a" * 26} if claims is None else claims
    return f"Bearer {jwt.encode(claims, secret, algorithm='HS256')}".encode()


async def _no_op(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def _rate(middleware: JWTAuthMiddleware, headers: list[tuple[bytes, bytes]], expected: int) -> float:
    statuses: list[int] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    scope: Scope = {"type": "http", "path": "/call", "root_path": "", "headers": headers, "method": "POST"}
    start = time.perf_counter()
    deadline = start + MAX_SECONDS
    calls = 0
    while calls < MAX_CALLS and time.perf_counter() < deadline:
        for _ in range(100):
            await middleware(dict(scope), receive, send)
        calls += 100
    elapsed = time.perf_counter() - start
    assert set(statuses) == {expected}, f"expected {expected}, got {set(statuses)}"
    return calls / elapsed


def main() -> None:
    # Each refusal logs at INFO; leave that out of the figure (a real server's logging varies).
    logging.getLogger("hello_jwt.auth").setLevel(logging.WARNING)
    one_key = JWTAuthMiddleware(_no_op, keys=SECRET)
    ring = JWTAuthMiddleware(_no_op, keys={"a": "other-1", "b": "other-2", "c": SECRET})
    provider = JWTAuthMiddleware(_no_op, keys=lambda: {"store": SECRET})
    cases = [
        ("valid token", one_key, [(HEADER, _token())], 200),
        ("valid token, 3rd key of 3", ring, [(HEADER, _token())], 200),
        ("valid token, key provider", provider, [(HEADER, _token())], 200),
        ("rejected: bad signature", one_key, [(HEADER, _token(secret="wrong"))], 401),
        ("rejected: expired", one_key, [(HEADER, _token({"exp": 1}))], 401),
        ("rejected: no header", one_key, [], 401),
        ("rejected: 9 KB header", one_key, [(HEADER, b"Bearer " + b"A" * 9000)], 401),
    ]
    for name, middleware, headers, expected in cases:
        rate = asyncio.run(_rate(middleware, headers, expected))
        print(f"{name:<28} {rate:>10,.0f} verifications/s", flush=True)
