"""A small Mattermost REST client for what an app's bot does: open a DM channel and post in it.

It imports nothing from the rest of hello_jwt. All I/O goes through the httpx transport it is
given, so the caller owns connection pooling and tests can pass any transport.
"""

from __future__ import annotations

import email.utils
import functools
import json
import time

import httpx

__all__ = ["MattermostClient", "MattermostError"]

USER_AGENT = "hello-jwt (Mattermost App)"


class MattermostError(Exception):
    """A failed REST call. ``status_code`` is None when no HTTP answer came back at all."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error_id: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.error_id = error_id
        self.request_id = request_id
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Worth another try: no answer, rate limited, or a server-side failure."""
        return self.status_code is None or self.status_code == 429 or self.status_code >= 500

    @property
    def channel_gone(self) -> bool:
        """Mattermost says the channel does not exist or the bot may not post in it."""
        return self.status_code in (403, 404)


class MattermostClient:
    """Calls the Mattermost REST API v4 of one server as one bot, through an httpx transport.

    It speaks to the transport (``httpx.AsyncBaseTransport``) directly rather than through an
    ``httpx.AsyncClient``: the client's per-request work (URL and header merging, cookies,
    auth and redirect handling) cost as much CPU as the transport itself, for nothing a bot
    needs (README "Benchmarks"). Requests, responses and errors are still httpx's, and tests
    can pass any transport, such as ``httpx.MockTransport``.

    ``timeout`` (seconds) applies to each request; a call's ``timeout`` overrides it.
    """

    def __init__(
        self, transport: httpx.AsyncBaseTransport, *, site_url: str, token: str, timeout: float = 10.0
    ) -> None:
        self._transport = transport
        # Keep any sub-path: https://host/chat + /api/v4/... -> https://host/chat/api/v4/...
        self._api = site_url.rstrip("/") + "/api/v4"
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }
        self._timeout = timeout

    async def create_direct_channel(self, user_id: str, other_user_id: str, *, timeout: float | None = None) -> str:
        """Open (or find) the DM channel of two users and return its id."""
        response = await self._post("/channels/direct", [user_id, other_user_id], (200, 201), timeout)
        try:
            return str(response.json()["id"])
        except (ValueError, KeyError, TypeError):
            raise MattermostError(f"POST /channels/direct: answer {response.status_code} has no channel id") from None

    async def create_post(
        self, channel_id: str, message: str, *, pending_post_id: str, timeout: float | None = None
    ) -> None:
        """Post ``message``. Mattermost de-duplicates posts that repeat a ``pending_post_id``."""
        body = {"channel_id": channel_id, "message": message, "pending_post_id": pending_post_id}
        # A 201 means the post exists; its body is not needed, so it is not parsed.
        await self._post("/posts", body, (201,), timeout)

    async def _post(self, path: str, body: object, expected: tuple[int, ...], timeout: float | None) -> httpx.Response:
        seconds = self._timeout if timeout is None else timeout
        request = httpx.Request(
            "POST",
            _url(self._api + path),
            headers=self._headers,
            content=json.dumps(body).encode(),
            extensions={"timeout": {"connect": min(5.0, seconds), "read": seconds, "write": seconds, "pool": seconds}},
        )
        try:
            response = await self._transport.handle_async_request(request)
            try:
                await response.aread()
            finally:
                await response.aclose()  # hands the connection back to the pool
        except httpx.TransportError as exc:
            # The transport's own exception says more (e.g. aiohttp's ServerDisconnectedError).
            cause = exc.__cause__ or exc
            detail = str(cause)
            raise MattermostError(f"POST {path}: {type(cause).__name__}" + (f": {detail}" if detail else "")) from exc
        if response.status_code not in expected:
            raise _error_from(path, response)
        return response


@functools.lru_cache(maxsize=1024)
def _url(url: str) -> httpx.URL:
    return httpx.URL(url)  # parsed once per site and path, not once per request


def _error_from(path: str, response: httpx.Response) -> MattermostError:
    error_id = message = request_id = None
    try:
        body = response.json()
    except ValueError:
        body = None  # e.g. the rate limiter's plain-text "limit exceeded"
    if isinstance(body, dict):
        error_id = str(body.get("id") or "") or None
        message = str(body.get("message") or "") or None
        request_id = str(body.get("request_id") or "") or None
    if message is None:
        message = response.text.strip()[:200] or response.reason_phrase
    return MattermostError(
        f"POST {path}: {response.status_code} {message}",
        status_code=response.status_code,
        error_id=error_id,
        request_id=response.headers.get("X-Request-ID") or request_id,
        retry_after=retry_after(response),
    )


def retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait as the server asks: Retry-After (seconds or a date), else X-RateLimit-Reset."""
    raw = response.headers.get("Retry-After")
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(raw)
            except (TypeError, ValueError):
                return None
            return max(0.0, when.timestamp() - time.time())
    reset = response.headers.get("X-RateLimit-Reset")
    if reset:
        try:
            return max(0.0, float(reset))
        except ValueError:
            return None
    return None
