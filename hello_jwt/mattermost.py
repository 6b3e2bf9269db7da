"""A small Mattermost REST client for what an app's bot does: open a DM channel and post in it.

It imports nothing from the rest of hello_jwt. All I/O goes through the ``httpx.AsyncClient``
it is given, so the caller owns connection pooling and tests can pass any transport.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx

__all__ = ["MattermostClient", "MattermostError"]


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
        return self.status_code in (403, 404)


class MattermostClient:
    """Calls the Mattermost REST API v4 of one server as one bot."""

    def __init__(self, http: httpx.AsyncClient, *, site_url: str, token: str) -> None:
        self._http = http
        # Keep any sub-path: https://host/chat + /api/v4/... -> https://host/chat/api/v4/...
        self._api = site_url.rstrip("/") + "/api/v4"
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def create_direct_channel(self, user_id: str, other_user_id: str) -> str:
        """Open (or find) the DM channel of two users and return its id."""
        channel = await self._post("/channels/direct", [user_id, other_user_id], expected=(200, 201))
        return str(channel["id"])

    async def create_post(self, channel_id: str, message: str, *, pending_post_id: str) -> dict[str, Any]:
        """Post ``message``. Mattermost de-duplicates posts that repeat a ``pending_post_id``."""
        body = {"channel_id": channel_id, "message": message, "pending_post_id": pending_post_id}
        post: dict[str, Any] = await self._post("/posts", body, expected=(201,))
        return post

    async def _post(self, path: str, body: object, *, expected: tuple[int, ...]) -> Any:
        try:
            response = await self._http.post(self._api + path, json=body, headers=self._headers)
        except httpx.TransportError as exc:
            raise MattermostError(f"POST {path}: {type(exc).__name__}: {exc}".rstrip(": ")) from exc
        if response.status_code not in expected:
            raise _error_from(path, response)
        try:
            return response.json()
        except ValueError:
            raise MattermostError(f"POST {path}: answer {response.status_code} is not JSON") from None


def _error_from(path: str, response: httpx.Response) -> MattermostError:
    error_id = message = None
    try:
        body = response.json()
        if isinstance(body, dict):
            error_id = body.get("id") or None
            message = body.get("message") or None
    except ValueError:
        pass  # e.g. the rate limiter's plain-text "limit exceeded"
    if message is None:
        message = response.text.strip()[:200] or response.reason_phrase
    return MattermostError(
        f"POST {path}: {response.status_code} {message}",
        status_code=response.status_code,
        error_id=error_id,
        request_id=response.headers.get("X-Request-ID"),
        retry_after=_retry_after(response),
    )


def _retry_after(response: httpx.Response) -> float | None:
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
