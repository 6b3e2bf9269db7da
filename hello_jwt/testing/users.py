"""Mattermost users as the fake server stores them, and their JSON as Go's ``model.User`` emits it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
# Levels of ``expand`` for a user (protocol §4.3); "all" is the whole sanitized user.
USER_LEVELS = ("id", "summary", "all")
_SUMMARY_FIELDS = {
    "bot_description",
    "delete_at",
    "email",
    "first_name",
    "id",
    "is_bot",
    "last_name",
    "locale",
    "nickname",
    "position",
    "roles",
    "timezone",
    "username",
}
# model.User's JSON keys in struct order; True = always emitted (no omitempty).
_USER_KEYS: tuple[tuple[str, bool], ...] = (
    ("id", True),
    ("create_at", False),
    ("update_at", False),
    ("delete_at", True),
    ("username", True),
    ("auth_service", True),
    ("email", True),
    ("email_verified", False),
    ("nickname", True),
    ("first_name", True),
    ("last_name", True),
    ("position", True),
    ("roles", True),
    ("notify_props", False),
    ("last_password_update", False),
    ("locale", True),
    ("timezone", True),
    ("is_bot", False),
    ("bot_description", False),
    ("disable_welcome_email", True),
)
_ZERO: dict[str, Any] = {"timezone": None, "delete_at": 0, "disable_welcome_email": False}


def new_id() -> str:
    """A 26-character id shaped like Mattermost's."""
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(26))


@dataclass(frozen=True)
class User:
    """A user (or bot) of the fake Mattermost. ``token`` is a session token for its REST calls."""

    id: str
    username: str
    is_bot: bool = False
    token: str = field(default="", repr=False)
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    nickname: str = ""
    position: str = ""
    roles: str = "system_user"
    locale: str = "en"
    bot_description: str = ""
    create_at: int = 0

    def as_json(self, level: str = "all") -> dict[str, Any]:
        """The user as the Apps plugin expands it (``id``, ``summary``, ``all``), keys in Go order."""
        if level not in USER_LEVELS:
            raise ValueError(f"unknown user level {level!r}")
        values: dict[str, Any] = {
            "id": self.id,
            "create_at": self.create_at,
            "update_at": self.create_at,
            "delete_at": 0,
            "username": self.username,
            "auth_service": "",
            "email": self.email or f"{self.username}@example.com",
            "email_verified": True,
            "nickname": self.nickname,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "position": self.position,
            "roles": self.roles,
            "notify_props": {"desktop": "mention", "email": "true", "push": "mention"},
            "last_password_update": self.create_at,
            "locale": self.locale,
            "timezone": {"automaticTimezone": "", "manualTimezone": "", "useAutomaticTimezone": "true"},
            "is_bot": self.is_bot,
            "bot_description": self.bot_description,
            "disable_welcome_email": False,
        }
        if level == "id":
            kept = {"id"}
        elif level == "summary":
            kept = _SUMMARY_FIELDS
        else:
            kept = set(values)
        out: dict[str, Any] = {}
        for key, always in _USER_KEYS:
            value = values[key] if key in kept else _ZERO.get(key, "")
            if always or value:
                out[key] = value
        return out
