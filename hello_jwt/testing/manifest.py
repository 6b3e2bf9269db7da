"""The Apps plugin's reading of a manifest: Go-style decoding and ``Manifest.Validate`` (protocol §1)."""

from __future__ import annotations

import json
import unicodedata
from typing import Any
from urllib.parse import unquote, urlsplit

MAX_MANIFEST_BYTES = 1024 * 1024  # httpOut.GetFromURL's limit
DEPLOY_TYPES = ("aws_lambda", "http", "open_faas", "plugin")
PERMISSION_NEEDS = {
    "remote_webhooks": "act_as_bot",
    "remote_oauth2": "act_as_user",
    "user_joined_channel_notification": "act_as_bot",
}
CALL_FIELDS = ("bindings", "on_install", "on_uninstall", "on_version_changed", "on_enable", "on_disable")
# apps.Manifest's JSON keys; encoding/json matches them case-insensitively.
_MANIFEST_KEYS = (
    "app_id",
    "version",
    "homepage_url",
    "display_name",
    "description",
    "icon",
    "requested_permissions",
    "requested_locations",
    "remote_webhook_auth_type",
    *CALL_FIELDS,
    "get_oauth2_connect_url",
    "on_oauth2_complete",
    "on_remote_webhook",
    *DEPLOY_TYPES,
)
_HTTP_KEYS = ("root_url", "use_jwt")


class ManifestError(ValueError):
    """The plugin refuses the manifest; the message is what the admin would see."""


def decode_manifest(raw: bytes) -> dict[str, Any]:
    """Decode as ``DecodeCompatibleManifest`` does: unknown keys dropped, keys matched
    case-insensitively, a Call given as a bare string read as ``{"path": ...}``."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ManifestError(f"failed to decode manifest: {exc}") from None
    if not isinstance(data, dict):
        raise ManifestError("failed to decode manifest: not a JSON object")
    manifest = _fold_keys(data, _MANIFEST_KEYS)
    if isinstance(manifest.get("http"), dict):
        manifest["http"] = _fold_keys(manifest["http"], _HTTP_KEYS)
    for name in CALL_FIELDS:
        if name in manifest:
            manifest[name] = normalize_call(manifest[name])
    return manifest


def validate_manifest(manifest: Any, *, require_display_name: bool = True) -> list[str]:
    """``Manifest.Validate``: every problem found, empty when the manifest is valid.

    ``require_display_name`` is the v1.2.1+ rule (#439); v1.2.0 accepts a manifest without one.
    """
    if not isinstance(manifest, dict):
        return ["manifest is not a JSON object"]
    problems = []
    app_id = manifest.get("app_id", "")
    if not isinstance(app_id, str) or not 3 <= len(app_id.encode()) <= 32 or not _id_chars_ok(app_id):
        problems.append(f"invalid app_id {app_id!r}: 3 to 32 letters, digits, '-', '_' or '.'")
    version = manifest.get("version", "")
    if not isinstance(version, str) or len(version.encode()) > 10 or (version and not _id_chars_ok(version)):
        problems.append(f"invalid version {version!r}")
    if require_display_name and not manifest.get("display_name"):
        problems.append("display_name is empty")
    if not manifest.get("homepage_url"):
        problems.append("homepage_url is empty")
    elif not is_valid_url(manifest["homepage_url"]):
        problems.append(f"homepage_url {manifest['homepage_url']!r} is not a valid http(s) URL")
    icon = manifest.get("icon")
    if icon and clean_static_path(icon) is None:
        problems.append(f"invalid icon path {icon!r} in manifest")
    permissions = manifest.get("requested_permissions") or []
    for permission, needs in PERMISSION_NEEDS.items():
        if permission in permissions and needs not in permissions:
            problems.append(f"permission {permission} requires {needs}")
    if not any(manifest.get(key) for key in DEPLOY_TYPES):
        problems.append("manifest has no deployment information")
    http = manifest.get("http")
    if isinstance(http, dict):
        if not http.get("root_url"):
            problems.append("root_url must be set for HTTP apps")
        elif not is_valid_url(http["root_url"]):
            problems.append(f"root_url {http['root_url']!r} is not a valid http(s) URL")
    return problems


def normalize_call(call: Any) -> Any:
    """A Call may be a bare string meaning ``{"path": ...}`` (``Call.UnmarshalJSON``)."""
    return {"path": call} if isinstance(call, str) else call


def normalize_form(form: Any) -> Any:
    """A Form may be a bare string meaning ``{"source": {"path": ...}}``; its calls may be strings."""
    if isinstance(form, str):
        return {"source": {"path": form}}
    if isinstance(form, dict):
        form = dict(form)
        for key in ("submit", "source"):
            if key in form:
                form[key] = normalize_call(form[key])
    return form


def clean_static_path(name: Any) -> str | None:
    """``utils.CleanStaticURL``: unescape repeatedly, ``path.Clean``; None for ``""``, ``.`` or ``../…``."""
    if not isinstance(name, str):
        return None
    previous = None
    while previous != name:
        previous, name = name, unquote(name)
    cleaned = path_clean(name)
    if cleaned in ("", ".", "..") or cleaned.startswith("../"):
        return None
    return cleaned


def is_valid_url(value: Any) -> bool:
    """``httputils.IsValidURL``: an absolute http(s) URL with a host."""
    if not isinstance(value, str) or not value:
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def path_clean(path: str) -> str:
    """Go's ``path.Clean``."""
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    cleaned = ("/" if rooted else "") + "/".join(parts)
    return cleaned or "."


def _fold_keys(data: dict[str, Any], known: tuple[str, ...]) -> dict[str, Any]:
    # encoding/json prefers an exact match and otherwise takes a case-insensitive one; the last
    # matching key in the document wins.
    by_fold = {key.casefold(): key for key in known}
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = key if key in known else by_fold.get(key.casefold())
        if name is not None:
            out[name] = value
    return out


def _id_chars_ok(value: str) -> bool:
    return all(unicodedata.category(c)[0] in "LN" or c in "-_." for c in value)
