"""Context expansion as the Apps plugin does it for a call's ``expand`` (protocol §4.3).

The emulator can expand ``app``, ``acting_user``, ``acting_user_access_token`` and ``locale``.
It has no teams, channels or posts to expand from: asking for those behaves as a failed fetch
(the field is missing, or with ``+`` the call fails), and says so in the error text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hello_jwt.testing.users import User

# apps.Expand's keys, in struct order (the order the plugin re-encodes them in).
EXPAND_KEYS = (
    "app",
    "acting_user",
    "acting_user_access_token",
    "locale",
    "channel",
    "channel_member",
    "team",
    "team_member",
    "post",
    "root_post",
    "user",
    "oauth2_app",
    "oauth2_user",
)
LEVELS = ("", "id", "summary", "all")
# Levels each key acts on; any other known level is silently ignored for that key.
_ACCEPTED = {
    "app": ("summary", "all"),
    "acting_user": ("id", "summary", "all"),
    "acting_user_access_token": ("all",),
    "locale": ("id", "summary", "all"),
    "oauth2_app": ("all",),
    "oauth2_user": ("all",),
}
_NOT_EMULATED = ("channel", "channel_member", "team", "team_member", "post", "root_post", "user")


class ExpandError(Exception):
    """The call fails before reaching the app; the user sees ``failed to expand context: <message>``."""


@dataclass(frozen=True)
class ExpandSubject:
    """What expansion can read about the app being called."""

    app_id: str
    version: str
    bot: User
    permissions: tuple[str, ...]


def decode_expand(expand: Any) -> dict[str, str] | None:
    """The ``expand`` clause after the plugin decodes it into ``apps.Expand`` and encodes it again:
    unknown keys dropped, empty levels omitted, Go key order. None when absent."""
    if expand is None:
        return None
    if not isinstance(expand, dict):
        raise ExpandError("json: cannot unmarshal expand into Go value of type apps.Expand")
    out = {}
    for key in EXPAND_KEYS:
        value = expand.get(key, "")
        if not isinstance(value, str):
            raise ExpandError(f"json: cannot unmarshal expand.{key} into Go value of type apps.ExpandLevel")
        if value:
            out[key] = value
    return out


def parse_level(raw: str) -> tuple[bool, str]:
    """``ParseExpandLevel``: (required, level). ``+`` means required; ``none``, ``-…`` and any
    other word are rejected."""
    required = raw.startswith("+")
    level = raw[1:] if required else raw
    if level not in LEVELS:
        raise ExpandError(f'"{level}" is not a known expand level')
    return required, level


def expand_context(expand: dict[str, str], subject: ExpandSubject, acting_user: User | None) -> dict[str, Any]:
    """The expanded fields of the context (Go order), or ExpandError."""
    levels = {key: parse_level(expand[key]) for key in EXPAND_KEYS if key in expand}
    wanted = {key: level for key, level in levels.items() if level[1]}
    if wanted and not {"act_as_bot", "act_as_user"} & set(subject.permissions):
        raise ExpandError("apps without any ActAs* permission can't expand")
    out: dict[str, Any] = {}
    for key, (required, level) in wanted.items():
        if key in _ACCEPTED and level not in _ACCEPTED[key]:
            continue
        try:
            out[key] = _expand_one(key, level, subject, acting_user)
        except LookupError as exc:
            if required:
                raise ExpandError(f"failed to expand required {key}: {exc}") from None
    return out


def _expand_one(key: str, level: str, subject: ExpandSubject, acting_user: User | None) -> Any:
    if key == "app":
        app: dict[str, Any] = {"app_id": subject.app_id}
        if subject.version:
            app["version"] = subject.version
        if level == "all":
            app["deploy_type"] = "http"
        app["bot_user_id"] = subject.bot.id
        app["bot_username"] = subject.bot.username
        return app
    if key in ("acting_user", "acting_user_access_token", "locale"):
        if acting_user is None:
            raise LookupError("no user ID to expand")
        if key == "acting_user":
            return acting_user.as_json(level)
        if key == "locale":
            return acting_user.locale
        if "act_as_user" not in subject.permissions:
            raise LookupError("the app has no permission to act as a user")
        return acting_user.token
    if key in _NOT_EMULATED:
        raise LookupError("the emulator has no teams, channels or posts to expand from")
    raise LookupError("the emulator has no OAuth2 data to expand")
