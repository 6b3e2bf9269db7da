"""The CallRequest body as the Apps plugin encodes it for the app (protocol §4.1, §4.2)."""

from __future__ import annotations

from typing import Any

from hello_jwt.testing.cleaning import PLUGIN_ID
from hello_jwt.testing.wire import go_map


def call_context(
    *,
    site_url: str,
    app_id: str,
    bot_user_id: str,
    bot_access_token: str = "",
    developer_mode: bool = True,
    expanded: dict[str, Any] | None = None,
    user_agent: str = "",
    track_as_submit: bool = False,
) -> dict[str, Any]:
    """An expanded context, keys in ``apps.Context`` struct order. The plugin clears the whole
    user-agent part (ids, ``app_id``, location) before sending; HEAD keeps ``user_agent`` and
    ``track_as_submit``."""
    context: dict[str, Any] = {"app_id": ""}
    if user_agent:
        context["user_agent"] = user_agent
    if track_as_submit:
        context["track_as_submit"] = True
    context["mattermost_site_url"] = site_url
    if developer_mode:
        context["developer_mode"] = True
    context["app_path"] = f"/plugins/{PLUGIN_ID}/apps/{app_id}"
    context["bot_user_id"] = bot_user_id
    if bot_access_token:
        context["bot_access_token"] = bot_access_token
    context.update(expanded or {})
    context["oauth2"] = {}
    return context


def zero_context() -> dict[str, Any]:
    """The context of a call that is not expanded at all (the install ping)."""
    return {"app_id": "", "mattermost_site_url": "", "app_path": "", "bot_user_id": "", "oauth2": {}}


def ping_body() -> dict[str, Any]:
    return {"path": "/ping", "context": zero_context()}


def call_body(
    path: str,
    context: dict[str, Any],
    *,
    expand: dict[str, str] | None = None,
    state: Any = None,
    values: dict[str, Any] | None = None,
    raw_command: str = "",
) -> dict[str, Any]:
    """A CallRequest in Go field order: ``expand`` when given (``{}`` counts), ``state`` when not
    null, ``values`` when not empty, ``raw_command`` when not empty; map values sorted by key."""
    body: dict[str, Any] = {"path": path}
    if expand is not None:
        body["expand"] = expand
    if state is not None:
        body["state"] = go_map(state)
    if values:
        body["values"] = go_map(values)
    body["context"] = context
    if raw_command:
        body["raw_command"] = raw_command
    return body
