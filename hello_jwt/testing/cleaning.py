"""How the Apps plugin cleans what an app offers: bindings (``cleanAppBinding``, protocol §6.3)
and forms (``cleanForm``, §5.2). Problems are only logged by the plugin, so here they are
returned as a list next to the cleaned value."""

from __future__ import annotations

import copy
import re
from typing import Any

from hello_jwt.testing.manifest import clean_static_path, normalize_call, normalize_form

PLUGIN_ID = "com.mattermost.apps"
_ABSOLUTE = re.compile(r"^https?://", re.IGNORECASE)


def static_url(site_url: str, app_id: str, name: str) -> str:
    """Where a browser fetches an app's static file through the plugin."""
    return f"{site_url}/plugins/{PLUGIN_ID}/apps/{app_id}/static/{name}"


def clean_bindings(
    bindings: Any,
    *,
    app_id: str,
    granted_locations: list[str],
    site_url: str = "",
    user_agent: str = "webapp",
) -> tuple[list[dict[str, Any]], list[str]]:
    """The app's bindings as clients get them, and the problems the plugin would log."""
    problems: list[str] = []
    if not isinstance(bindings, list):
        return [], ["failed to decode bindings: not a list"] if bindings is not None else []
    env = _Env(app_id, granted_locations, site_url, user_agent, problems)
    return _clean_list(bindings, "", env), problems


def clean_form(form: Any, *, app_id: str, site_url: str = "") -> tuple[dict[str, Any], list[str]]:
    """``cleanForm``: drops fields without a name, with a multi-word name or label, with a label
    used before, static selects without options (after cleaning those), dynamic selects without a
    ``lookup``; makes a relative icon absolute."""
    problems: list[str] = []
    out = dict(normalize_form(form) or {})
    fields = []
    used_labels: set[str] = set()
    for field in out.get("fields") or []:
        if not isinstance(field, dict):
            continue
        name = str(field.get("name") or "")
        label = str(field.get("label") or "") or name
        if not name:
            problems.append(f"field with no name, label {label}")
            continue
        if re.search(r"[ \t]", name):
            problems.append(f"field name must be a single word: {name!r}")
            continue
        if re.search(r"[ \t]", label):
            problems.append(f"label must be a single word: {label!r} (field: {name})")
            continue
        if label in used_labels:
            problems.append(f"repeated label: {label!r} (field: {name})")
            continue
        field = dict(field)
        if field.get("type") == "static_select":
            field["options"] = _clean_options(field, problems)
            if not field["options"]:
                problems.append(f"no options for static select: {name}")
                continue
        if field.get("type") == "dynamic_select" and not field.get("lookup"):
            problems.append(f"no lookup call for dynamic select: {name}")
            continue
        if "lookup" in field:
            field["lookup"] = normalize_call(field["lookup"])
        fields.append(field)
        used_labels.add(label)
    if "fields" in out:
        out["fields"] = fields
    icon = out.get("icon")
    if icon and not _ABSOLUTE.match(str(icon)):
        icon_name = clean_static_path(icon)
        if icon_name is None:
            problems.append(f"invalid form icon {icon!r}")
            out.pop("icon")
        else:
            out["icon"] = static_url(site_url, app_id, icon_name)
    if not out.get("submit") and not out.get("source"):
        problems.append("form has neither submit nor source")
    return out, problems


class _Env:
    def __init__(self, app_id: str, granted: list[str], site_url: str, user_agent: str, problems: list[str]) -> None:
        self.app_id = app_id
        self.granted = granted
        self.site_url = site_url
        self.user_agent = user_agent
        self.problems = problems


def _clean_list(bindings: list[Any], parent: str, env: _Env) -> list[dict[str, Any]]:
    cleaned = []
    for original in bindings:
        if isinstance(original, dict):
            binding = _clean_one(copy.deepcopy(original), parent, env)
            if binding is not None:
                cleaned.append(binding)
    return cleaned


def _clean_one(binding: dict[str, Any], parent: str, env: _Env) -> dict[str, Any] | None:
    location = str(binding.get("location") or "").strip()
    label = str(binding.get("label") or "")
    if not location and not label:
        env.problems.append("trying to add a binding with no location nor label")
        return None
    location = location or label
    binding["location"] = location
    full = parent + ("" if location.startswith("/") else "/") + location
    if not any(full.startswith(granted) for granted in env.granted):
        env.problems.append(f"location is not granted: {full}")
        return None
    if parent:
        binding["app_id"] = env.app_id
    if full.startswith("/command/"):
        label = (label or location).strip()
        if re.search(r"[ \t]", label):
            env.problems.append(f'command label "{label}" has multiple words')
            return None
        binding["label"] = label
    icon = binding.get("icon")
    if icon and not _ABSOLUTE.match(str(icon)):
        name = clean_static_path(icon)
        if name is None:
            env.problems.append(f"invalid icon path {icon!r} in binding")
            binding.pop("icon")
        else:
            binding["icon"] = static_url(env.site_url, env.app_id, name)
    if full.startswith("/channel_header/") and env.user_agent == "webapp" and not binding.get("icon"):
        env.problems.append(f"no icon in channel header binding {full}")
        return None
    if binding.get("submit"):
        binding["submit"] = normalize_call(binding["submit"])
    if binding.get("form"):
        binding["form"], form_problems = clean_form(binding["form"], app_id=env.app_id, site_url=env.site_url)
        env.problems.extend(form_problems)
    children = binding.get("bindings")
    if children:
        binding["bindings"] = _clean_list(children if isinstance(children, list) else [], full, env)
        if not binding["bindings"]:
            env.problems.append(f"no bindings left under {full}")
            return None
    has = [bool(binding.get("submit")), bool(binding.get("form")), bool(binding.get("bindings"))]
    if sum(has) != 1 and parent:
        env.problems.append(f"binding {full} must have exactly one of submit, form or bindings")
        return None
    return binding


def _clean_options(field: dict[str, Any], problems: list[str]) -> list[Any]:
    used_labels: set[str] = set()
    used_values: set[str] = set()
    options = []
    for option in field.get("options") or []:
        if not isinstance(option, dict):
            continue
        value = str(option.get("value") or "")
        label = str(option.get("label") or "") or value
        if not label:
            problems.append(f"option with neither label nor value (field {field.get('name')})")
            continue
        if label in used_labels or value in used_values:
            problems.append(f"repeated option {label!r} (field {field.get('name')})")
            continue
        used_labels.add(label)
        used_values.add(value)
        options.append(option)
    return options
