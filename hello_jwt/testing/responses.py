"""How the Apps plugin reads an app's answer to a call (protocol §2.4, §5) and what the user
then sees (§5.3)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from hello_jwt.testing.cleaning import clean_form

UPSTREAM_FAILED = "upstream call failed: "
# apps.CallResponse's keys in struct order; "type" is always emitted.
_RESPONSE_KEYS = ("type", "text", "data", "navigate_to_url", "use_external_browser", "call", "form", "refresh_bindings")


@dataclass(frozen=True)
class CallResult:
    """One call: what the app answered (``status_code``, ``body``) and what the plugin turned it
    into (``response``, a CallResponse). ``status_code`` is None when no answer came, or when the
    plugin failed the call before sending it."""

    status_code: int | None
    body: Any
    response: dict[str, Any]
    problems: list[str] = field(default_factory=list)  # what the plugin would only log

    @property
    def ok(self) -> bool:
        return self.response.get("type") == "ok"

    def user_sees(self) -> str:
        """What the webapp shows for this response to a slash command (§5.3)."""
        kind = self.response.get("type")
        text = str(self.response.get("text") or "")
        if kind == "ok":
            return f"an ephemeral post from the app's bot: {text}" if text else "nothing (ok without text)"
        if kind == "error":
            return f"an error under the message box: {text or 'Unknown error occurred.'}"
        if kind == "form":
            return f"a modal form: {(self.response.get('form') or {}).get('title', '')}"
        if kind == "navigate":
            return f"the browser navigates to {self.response.get('navigate_to_url')}"
        return f"App response type not supported. Response type: {kind}."


def error_result(text: str, status_code: int | None = None, body: Any = None) -> CallResult:
    return CallResult(status_code, body, {"type": "error", "text": text})


def upstream_result(response: httpx.Response, *, app_id: str, site_url: str) -> CallResult:
    """Read an answer the way the HTTP upstream does: only exactly 200 with a JSON object is an
    answer; 404 is "not found"; any other status is an error whose text is the raw body."""
    body = _json_or_none(response.content)
    if response.status_code == 404:
        return error_result(f"{UPSTREAM_FAILED}{response.request.url}: not found", 404, body)
    if response.status_code != 200:
        return error_result(UPSTREAM_FAILED + response.text, response.status_code, body)
    problem = decode_problem(response.content)
    if problem:
        return error_result(UPSTREAM_FAILED + problem, 200, body)
    assert isinstance(body, dict)
    out: dict[str, Any] = {"type": body.get("type") or "ok"}
    for key in _RESPONSE_KEYS[1:]:
        if body.get(key):
            out[key] = body[key]
    problems: list[str] = []
    if isinstance(out.get("form"), dict):
        out["form"], problems = clean_form(out["form"], app_id=app_id, site_url=site_url)
    return CallResult(200, body, out, problems)


def transport_failure(method: str, url: str, exc: httpx.HTTPError) -> CallResult:
    """A request that got no answer, in Go's words: ``Post "<url>": EOF`` and the like."""
    if isinstance(exc, httpx.TimeoutException):
        cause = "context deadline exceeded"
    elif isinstance(exc, httpx.ConnectError):
        cause = "connect: connection refused"
    elif isinstance(exc, httpx.RemoteProtocolError):
        cause = "EOF"
    elif isinstance(exc, httpx.ReadError):
        cause = "read: connection reset by peer"
    else:
        cause = str(exc) or type(exc).__name__
    return error_result(f'{UPSTREAM_FAILED}failed to invoke via HTTP: {method.title()} "{url}": {cause}')


def decode_problem(content: bytes) -> str:
    """json.Decoder's complaint about a body, or "" when it is a CallResponse."""
    if not content.strip():
        return "EOF"
    try:
        data = json.loads(content)
    except ValueError:
        first = content.strip()[:1].decode(errors="replace")
        return f"invalid character {first!r} looking for beginning of value"
    if not isinstance(data, dict):
        return f"json: cannot unmarshal {type(data).__name__} into Go value of type apps.CallResponse"
    if not isinstance(data.get("type", ""), str):
        return "json: cannot unmarshal type into Go struct field CallResponse.type of type apps.CallResponseType"
    return ""


def _json_or_none(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return None
