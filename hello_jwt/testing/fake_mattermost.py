"""A fake Mattermost REST server (the part of API v4 an app's bot uses), on 127.0.0.1.

It answers like the real server (status codes, AppError JSON, de-duplication by
``pending_post_id``), records every request and post, and injects faults on demand.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hello_jwt.testing.server import serve
from hello_jwt.testing.users import User, new_id

DEDUP_WINDOW_SECONDS = 30.0


@dataclass
class Fault:
    """Applied to the next ``count`` requests whose path ends with ``path`` (all when empty)."""

    count: int = 1
    status: int = 503
    delay: float = 0.0  # seconds to wait before the faulty answer (or the drop)
    path: str = ""
    retry_after: float | None = None
    drop: bool = False  # close the connection without an answer
    lose_answer: bool = False  # do the work (e.g. create the post), then drop the connection unanswered


@dataclass
class RecordedRequest:
    """One request the fake server got (``body`` is its JSON, or None) and the status it answered."""

    method: str
    path: str
    authorization: str
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    status: int | None = None  # set once the answer has started


class FakeMattermost:
    """Start with ``with FakeMattermost() as mm:``; ``mm.url`` is its site URL.

    ``sub_path`` serves the API under a path (``/chat/api/v4``); ``delay`` holds every answer;
    ``clock`` times the ``pending_post_id`` window. Inspect ``requests``, ``posts``, ``users`` and
    ``channels`` (DM channel id -> the two user ids); clear ``posts_gate`` to hold posts.
    """

    def __init__(self, *, sub_path: str = "", delay: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.sub_path = sub_path.rstrip("/")
        self.delay = delay  # seconds before every answer
        self.clock = clock  # for the pending_post_id de-duplication window
        self.url = ""
        self.requests: list[RecordedRequest] = []
        self.posts: list[dict[str, Any]] = []
        self.users: dict[str, User] = {}
        self.channels: dict[str, tuple[str, str]] = {}
        self.faults: list[Fault] = []
        # Cleared, it holds every POST /posts until set again: shows an app answered first.
        self.posts_gate = threading.Event()
        self.posts_gate.set()
        self._lock = threading.Lock()
        self._posted = threading.Condition(self._lock)
        self._pending: dict[str, tuple[float, dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._serving: contextlib.ExitStack | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> FakeMattermost:
        self._serving = contextlib.ExitStack()
        self.url = self._serving.enter_context(serve(self.asgi_app())) + self.sub_path
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.posts_gate.set()
        assert self._serving is not None
        self._serving.close()

    # --- set-up and inspection from the test ----------------------------------------------

    def add_user(self, username: str, *, is_bot: bool = False, **profile: Any) -> User:
        """A new user (or bot) with a session token; ``profile`` sets other User fields."""
        user = User(id=new_id(), username=username, is_bot=is_bot, token=new_id(), **profile)
        with self._lock:
            self.users[user.id] = user
        return user

    def user_by_username(self, username: str) -> User | None:
        """The user (or bot) with this username, compared case-insensitively as Mattermost does."""
        with self._lock:
            return next((user for user in self.users.values() if user.username.lower() == username.lower()), None)

    def inject(self, fault: Fault) -> None:
        """Queue a fault; faults apply in the order injected until their count runs out."""
        with self._lock:
            self.faults.append(fault)

    def wait_for_posts(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until at least ``count`` posts exist; returns all posts."""
        with self._posted:
            self._posted.wait_for(lambda: len(self.posts) >= count, timeout=timeout)
            return list(self.posts)

    def dms_to(self, user_id: str) -> list[dict[str, Any]]:
        """The posts in every direct channel ``user_id`` is in."""
        with self._lock:
            channel_ids = {cid for cid, members in self.channels.items() if user_id in members}
            return [post for post in self.posts if post["channel_id"] in channel_ids]

    # --- the server ---------------------------------------------------------------------------

    def asgi_app(self) -> ASGIApp:
        prefix = self.sub_path + "/api/v4"
        routes = Starlette(
            routes=[
                Route(prefix + "/channels/direct", self._create_direct_channel, methods=["POST"]),
                Route(prefix + "/posts", self._create_post, methods=["POST"]),
                Route(prefix + "/users/me", self._get_me, methods=["GET"]),
                Route(prefix + "/users/{user_id}", self._get_user, methods=["GET"]),
            ],
            exception_handlers={404: _not_found, 405: _not_allowed},
        )

        async def with_faults(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                with self._lock:
                    fault = self._take_fault(scope["path"])
                if fault is not None and fault.delay:
                    await asyncio.sleep(fault.delay)
                if fault is not None and fault.drop:
                    # Promise a body, then fail: uvicorn closes the connection mid-answer.
                    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]})
                    raise ConnectionAbortedError("fault injected: dropped connection")
                if fault is not None and fault.lose_answer:
                    scope.setdefault("state", {})["fault"] = None
                    await routes(scope, receive, _discard)
                    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]})
                    raise ConnectionAbortedError("fault injected: answer lost")
                scope.setdefault("state", {})["fault"] = fault
                send = self._status_recorder(scope, send)
            await routes(scope, receive, send)

        return with_faults

    async def _create_direct_channel(self, request: Request) -> Response:
        caller, early = await self._begin(request)
        if early is not None:
            return early
        body = await _json(request)
        ids = body if isinstance(body, list) else None
        if ids is None or len(ids) != 2 or not all(isinstance(i, str) and len(i) == 26 for i in ids):
            return app_error(
                400, "api.context.invalid_body_param.app_error", "Invalid or missing user_ids in request body."
            )
        if caller.id not in ids:
            return app_error(403, "api.context.permissions.app_error", "You do not have the appropriate permissions.")
        with self._lock:
            if any(i not in self.users for i in ids):
                return app_error(400, "api.channel.create_direct_channel.invalid_user.app_error", "Invalid user ID.")
            pair = tuple(sorted(ids))
            channel_id = next((cid for cid, members in self.channels.items() if members == pair), None)
            if channel_id is None:
                channel_id = new_id()
                self.channels[channel_id] = (pair[0], pair[1])
        return JSONResponse({"id": channel_id, "type": "D", "name": f"{pair[0]}__{pair[1]}"}, status_code=201)

    async def _create_post(self, request: Request) -> Response:
        caller, early = await self._begin(request)
        if early is not None:
            return early
        while not self.posts_gate.is_set():
            await asyncio.sleep(0.01)
        body = await _json(request)
        if not isinstance(body, dict):
            return app_error(
                400, "api.context.invalid_body_param.app_error", "Invalid or missing post in request body."
            )
        channel_id, message = body.get("channel_id"), body.get("message")
        pending = body.get("pending_post_id") or ""
        with self._lock:
            members = self.channels.get(channel_id) if isinstance(channel_id, str) else None
            if members is None:
                return app_error(404, "app.channel.get.existing.app_error", "Unable to find the existing channel.")
            if caller.id not in members:
                return app_error(
                    403, "api.context.permissions.app_error", "You do not have the appropriate permissions."
                )
            if not isinstance(message, str) or not message.strip():
                return app_error(400, "model.post.is_valid.msg.app_error", "Invalid message.")
            now = self.clock()
            seen = self._pending.get(pending) if pending else None
            if seen is not None and now - seen[0] < DEDUP_WINDOW_SECONDS:
                return JSONResponse(seen[1], status_code=201)
            post = {
                "id": new_id(),
                "seq": next(self._ids),
                "channel_id": channel_id,
                "user_id": caller.id,
                "message": message,
                "pending_post_id": pending,
                "create_at": int(time.time() * 1000),
            }
            self.posts.append(post)
            if pending:
                self._pending[pending] = (now, post)
            self._posted.notify_all()
        return JSONResponse(post, status_code=201)

    async def _get_me(self, request: Request) -> Response:
        caller, early = await self._begin(request)
        return early or JSONResponse(caller.as_json())

    async def _get_user(self, request: Request) -> Response:
        _, early = await self._begin(request)
        if early is not None:
            return early
        user = self.users.get(request.path_params["user_id"])
        if user is None:
            return app_error(404, "app.user.missing_account.const", "Unable to find the user.")
        return JSONResponse(user.as_json())

    async def _begin(self, request: Request) -> tuple[User, Response | None]:
        """Record the request, apply delay and faults, and authenticate the caller."""
        body = await _json(request)
        authorization = request.headers.get("authorization", "")
        record = RecordedRequest(request.method, request.url.path, authorization, body, dict(request.headers))
        request.scope["state"]["record"] = record
        with self._lock:
            self.requests.append(record)
        fault: Fault | None = request.scope["state"].get("fault")
        if self.delay:
            await asyncio.sleep(self.delay)
        nobody = User(id="", username="")
        if fault is not None:
            return nobody, _fault_response(fault)
        scheme, _, token = authorization.partition(" ")
        caller = None
        if scheme.lower() in ("bearer", "token") and token:
            caller = next((user for user in self.users.values() if user.token == token), None)
        if caller is None:
            return nobody, app_error(
                401, "api.context.session_expired.app_error", "Invalid or expired session, please login again."
            )
        return caller, None

    def _status_recorder(self, scope: Scope, send: Send) -> Send:
        async def recording_send(message: Any) -> None:
            record = scope["state"].get("record")
            if message["type"] == "http.response.start" and record is not None:
                record.status = message["status"]
            await send(message)

        return recording_send

    def _take_fault(self, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.count > 0 and path.endswith(fault.path):
                fault.count -= 1
                return fault
        return None


async def _discard(message: Message) -> None:
    pass


def app_error(status: int, error_id: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """Mattermost's AppError JSON."""
    request_id = new_id()
    body = {"id": error_id, "message": message, "detailed_error": "", "request_id": request_id, "status_code": status}
    return JSONResponse(body, status_code=status, headers={"X-Request-ID": request_id, **(headers or {})})


def _fault_response(fault: Fault) -> Response:
    if fault.status == 429:
        wait = fault.retry_after if fault.retry_after is not None else 1
        headers = {
            "Retry-After": f"{wait:g}",
            "X-RateLimit-Limit": "10",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{wait:g}",
        }
        return PlainTextResponse("limit exceeded\n", status_code=429, headers=headers)
    return app_error(fault.status, "fake.fault_injected.app_error", f"Fault injected ({fault.status}).")


async def _not_found(request: Request, exc: Exception) -> Response:
    return app_error(404, "api.context.404.app_error", "Sorry, we could not find the page.")


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return app_error(405, "api.context.405.app_error", "Method not allowed.")


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None
