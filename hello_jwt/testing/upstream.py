"""The Apps plugin's HTTP side (``upstream/uphttp`` in the Go code): every request it makes to an
app goes through here, is signed when the app uses JWTs, and is recorded as an :class:`Exchange`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from hello_jwt.testing.manifest import path_clean
from hello_jwt.testing.wire import sign_token

USER_AGENT = "Mattermost-Bot/1.1"  # what Mattermost's outbound HTTP transport sends


class TooLarge(Exception):
    """A body went over the plugin's size limit."""


@dataclass(frozen=True)
class Exchange:
    """One HTTP request the plugin made to an app, kept so a test or a demo can show it."""

    purpose: str  # "manifest", "ping", "icon", "bindings", "on_install" or "call"
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: bytes
    status_code: int | None  # None: no answer
    response_body: bytes = b""
    error: str = ""


class HTTPUpstream:
    """Requests to apps, with Mattermost's outbound ``User-Agent`` and the plugin's tokens."""

    def __init__(self, *, timeout: float, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.exchanges: list[Exchange] = []
        self.http = httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT})

    def close(self) -> None:
        self.http.close()

    def get(self, url: str, *, purpose: str, limit: int | None = None) -> httpx.Response:
        """GET without any token (manifests and static files); raises TooLarge past ``limit``."""
        with self.http.stream("GET", url) as response:
            content = b""
            for chunk in response.iter_bytes():
                content += chunk
                if limit is not None and len(content) > limit:
                    self._record(purpose, response, content[:200], error="too large")
                    raise TooLarge(f"over {limit} bytes")
        self._record(purpose, response, content)
        return httpx.Response(response.status_code, headers=response.headers, content=content, request=response.request)

    def post(
        self,
        url: str,
        body: bytes,
        *,
        secret: str | None,
        acting_user_id: str = "",
        purpose: str,
        timeout: float | None = None,
    ) -> httpx.Response:
        """POST a call body; signed with ``secret`` unless it is None (an app without ``use_jwt``)."""
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            token = sign_token(secret, now=self.clock(), acting_user_id=acting_user_id)
            headers["Mattermost-App-Authorization"] = f"Bearer {token}"
        request = self.http.build_request("POST", url, content=body, headers=headers)
        if timeout is not None:
            request.extensions["timeout"] = httpx.Timeout(timeout).as_dict()
        try:
            response = self.http.send(request)
        except httpx.HTTPError as exc:
            error = str(exc) or type(exc).__name__
            self.exchanges.append(Exchange(purpose, "POST", url, headers, body, None, error=error))
            raise
        self.exchanges.append(Exchange(purpose, "POST", url, headers, body, response.status_code, response.content))
        return response

    def _record(self, purpose: str, response: httpx.Response, content: bytes, error: str = "") -> None:
        request = response.request
        headers = dict(request.headers)
        self.exchanges.append(
            Exchange(purpose, request.method, str(request.url), headers, b"", response.status_code, content, error)
        )


def join_url(root_url: str, path: str) -> str:
    """``utils.CleanURL(root_url + "/" + path)``: the path unescaped repeatedly, then cleaned."""
    parts = urlsplit(root_url + "/" + path)
    clean = parts.path
    previous = None
    while previous != clean:
        previous, clean = clean, unquote(clean)
    return urlunsplit((parts.scheme, parts.netloc, path_clean(clean), parts.query, ""))
