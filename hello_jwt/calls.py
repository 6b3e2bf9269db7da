"""Reading the Apps plugin's CallRequest bodies: tolerant of what the plugin may add, strict on
what a handler needs. Protocol facts: shared/docs/apps-protocol.md §4."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import ClientDisconnect, Request

from hello_jwt.bindings import MESSAGE_FIELD, MESSAGE_MAX_LENGTH

MATTERMOST_ID = re.compile(r"[a-z0-9]{26}")
# Visible ASCII only: the token goes into an HTTP header of the bot's REST calls.
BOT_TOKEN = re.compile(r"[\x21-\x7e]{1,256}")
MAX_CALL_BYTES = 256 * 1024


class BadCall(ValueError):
    """The call cannot be served; ``str(exc)`` is a short reason fit for the user."""

    def __init__(self, reason: str, status_code: int = 400) -> None:
        super().__init__(reason)
        self.status_code = status_code


class BadValue(BadCall):
    """A form value the user typed is not acceptable; ``field`` names it.

    Answered with 200: the plugin hands only a 200 body to the user as a CallResponse (any other
    status becomes "upstream call failed: <raw body>"), and the modal can then show the reason
    next to the field.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field} {reason}", status_code=200)
        self.field = field


# Control characters (Cc, including newline and tab), lone surrogates (Cs: not encodable as
# UTF-8) and line/paragraph separators have no place in a one-line message.
REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
# Bidirectional overrides and isolates make text display in another order than it reads.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass(frozen=True)
class SendCall:
    """What /send needs: who the bot is, on which server, and who asked."""

    site_url: str
    bot_user_id: str
    bot_token: str = field(repr=False)
    user_id: str
    message: str | None = None


async def read_call(request: Request) -> dict[str, Any]:
    """The JSON object of a call body; unknown keys are kept and ignored by the caller."""
    raw = await _body(request)
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        raise BadCall("the call body is not JSON") from None
    if not isinstance(body, dict):
        raise BadCall("the call body is not a JSON object")
    return body


async def _body(request: Request) -> bytes:
    """The body, read no further than MAX_CALL_BYTES: a call is a few KB, so more is not one."""
    too_large = BadCall(f"the call body is over {MAX_CALL_BYTES // 1024} KiB", status_code=413)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_CALL_BYTES:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_CALL_BYTES:
                raise too_large
            chunks.append(chunk)
    except ClientDisconnect:
        raise BadCall("the caller went away before the call body was read") from None
    return b"".join(chunks)


def send_call(body: dict[str, Any], token_user_id: str | None) -> SendCall:
    """Check a /send call against the token that came with it."""
    context = body.get("context")
    if not isinstance(context, dict):
        raise BadCall("the call has no context")
    site_url = _site_url(_text(context, "mattermost_site_url"))
    bot_token = _text(context, "bot_access_token", hint="the app needs the act_as_bot permission")
    if not BOT_TOKEN.fullmatch(bot_token):
        raise BadCall("context.bot_access_token is not a token")
    bot_user_id = _mattermost_id(_text(context, "bot_user_id"), "context.bot_user_id")

    acting_user = context.get("acting_user")
    body_user_id = acting_user.get("id") if isinstance(acting_user, dict) else None
    if acting_user is not None and not isinstance(body_user_id, str):
        raise BadCall("context.acting_user has no id")
    if not token_user_id:
        if body_user_id:
            # The plugin signs acting_user_id whenever it expands acting_user: a body naming a
            # user that the token does not is not one we can trust.
            raise BadCall("the token does not name the acting user", status_code=403)
        raise BadCall("the call does not name the acting user: its binding must expand acting_user")
    if body_user_id and body_user_id != token_user_id:
        raise BadCall("the acting user does not match the token", status_code=403)

    values = body.get("values")
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise BadCall("values must be a JSON object")
    return SendCall(
        site_url=site_url,
        bot_user_id=bot_user_id,
        bot_token=bot_token,
        user_id=_mattermost_id(token_user_id, "the acting user id"),
        message=_message(values.get(MESSAGE_FIELD)),
    )


def _site_url(url: str) -> str:
    """The Mattermost site URL, where the bot's REST calls go: http(s), a host, nothing else odd."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port that is not one)
    except ValueError:
        raise BadCall("context.mattermost_site_url is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadCall("context.mattermost_site_url is not an http(s) URL")
    if parts.username is not None or parts.query or parts.fragment or not url.isprintable() or " " in url:
        raise BadCall("context.mattermost_site_url must be a plain site URL (no credentials, query or spaces)")
    return url


def _message(value: Any) -> str | None:
    """The optional message: absent, null or blank means none; surrounding spaces are dropped."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadValue(MESSAGE_FIELD, "must be text")
    # Composed first, so that "é" typed as e + accent counts as the one character it is; the
    # length is checked before the (slower) scan of every character.
    value = unicodedata.normalize("NFC", value)
    text = value.strip()
    if len(text) > MESSAGE_MAX_LENGTH:
        raise BadValue(MESSAGE_FIELD, f"is too long: at most {MESSAGE_MAX_LENGTH} characters, got {len(text)}")
    if any(char in BIDI_CONTROLS or unicodedata.category(char) in REFUSED_CATEGORIES for char in value):
        raise BadValue(MESSAGE_FIELD, "must be one line of text, without control characters")
    return text or None


def _text(context: dict[str, Any], key: str, *, hint: str = "") -> str:
    value = context.get(key)
    if not isinstance(value, str) or not value:
        raise BadCall(f"context.{key} is missing" + (f" ({hint})" if hint else ""))
    return value


def _mattermost_id(value: str, what: str) -> str:
    if not MATTERMOST_ID.fullmatch(value):
        raise BadCall(f"{what} is not a Mattermost id")
    return value
