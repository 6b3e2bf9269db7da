"""An emulator of the Mattermost Apps plugin, as seen by an HTTP app that sets ``use_jwt``.

It installs an app the way the plugin does, fetches and cleans its bindings, and runs slash
commands as a given user: the call body is shaped as the plugin's Go encoder shapes it and the
token is signed as the plugin signs it. Protocol facts: shared/docs/apps-protocol.md.
"""

from __future__ import annotations

import copy
import json
import re
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
from jose import jwt

from hello_jwt.testing.fake_mattermost import FakeMattermost, User

PLUGIN_ID = "com.mattermost.apps"
PERMISSION_NEEDS = {
    "remote_webhooks": "act_as_bot",
    "remote_oauth2": "act_as_user",
    "user_joined_channel_notification": "act_as_bot",
}
TOKEN_LIFETIME = 15 * 60
ICON_SUFFIX_OK = re.compile(r"^https?://", re.IGNORECASE)


class InstallError(Exception):
    """The plugin would refuse to install the app; the message is what the admin would see."""


@dataclass
class InstalledApp:
    manifest: dict[str, Any]
    secret: str = field(repr=False)
    bot: User

    @property
    def app_id(self) -> str:
        return str(self.manifest["app_id"])

    @property
    def root_url(self) -> str:
        return str(self.manifest["http"]["root_url"])


@dataclass(frozen=True)
class CallResult:
    status_code: int
    body: Any
    # What the plugin would hand the user: type "error" for anything but a 200 JSON answer.
    response: dict[str, Any]


def validate_manifest(manifest: Any, *, require_display_name: bool = True) -> list[str]:
    """The plugin's Manifest.Validate (v1.2.1+ requires display_name): a list of problems."""
    if not isinstance(manifest, dict):
        return ["manifest is not a JSON object"]
    problems = []
    app_id = manifest.get("app_id", "")
    if not isinstance(app_id, str) or not 3 <= len(app_id.encode()) <= 32 or not _id_chars_ok(app_id):
        problems.append(f"invalid app_id {app_id!r}")
    elif not re.fullmatch(r"[a-z0-9._-]+", app_id.lower()):
        problems.append(f"app_id {app_id!r} cannot become a bot username")
    version = manifest.get("version", "")
    if not isinstance(version, str) or len(version.encode()) > 10 or (version and not _id_chars_ok(version)):
        problems.append(f"invalid version {version!r}")
    if require_display_name and not manifest.get("display_name"):
        problems.append("display_name is empty")
    if not _valid_url(manifest.get("homepage_url")):
        problems.append("homepage_url must be a valid http(s) URL")
    icon = manifest.get("icon")
    if icon is not None and clean_static_path(icon) is None:
        problems.append(f"invalid icon path {icon!r}")
    permissions = manifest.get("requested_permissions") or []
    for permission, needs in PERMISSION_NEEDS.items():
        if permission in permissions and needs not in permissions:
            problems.append(f"permission {permission} requires {needs}")
    deploys = [key for key in ("aws_lambda", "http", "open_faas", "plugin") if manifest.get(key)]
    if not deploys:
        problems.append("manifest has no deployment information")
    http = manifest.get("http")
    if isinstance(http, dict) and not _valid_url(http.get("root_url")):
        problems.append("http.root_url must be a valid http(s) URL")
    return problems


def clean_static_path(name: Any) -> str | None:
    """utils.CleanStaticURL: unescape repeatedly, clean; None for '', '.' or '../…'."""
    if not isinstance(name, str):
        return None
    previous = None
    while previous != name:
        previous, name = name, unquote(name)
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            else:
                parts.append("..")
            continue
        parts.append(part)
    cleaned = "/".join(parts)
    if cleaned in ("", ".") or cleaned == ".." or cleaned.startswith("../"):
        return None
    return cleaned


class AppsPlugin:
    """The Apps plugin of one Mattermost server (``mattermost``), for HTTP apps."""

    def __init__(self, mattermost: FakeMattermost, *, version: str = "v1.2.2", timeout: float = 30.0) -> None:
        self.mattermost = mattermost
        self.version = version
        self.http = httpx.Client(timeout=timeout, headers={"User-Agent": "Mattermost-Bot/1.1"})

    def close(self) -> None:
        self.http.close()

    # --- install ----------------------------------------------------------------------------

    def install(self, manifest_url: str, secret: str) -> InstalledApp:
        """``/apps install http <manifest_url>`` and the consent form submitted with ``secret``."""
        response = self.http.get(manifest_url)
        if response.status_code >= 400:
            raise InstallError(f"received status {response.status_code}: {response.text}")
        if len(response.content) > 1024 * 1024:
            raise InstallError("size limit of 1024Kb exceeded")
        try:
            manifest = response.json()
        except ValueError as exc:
            raise InstallError(f"failed to decode manifest: {exc}") from None
        problems = validate_manifest(manifest, require_display_name=self.version != "v1.2.0")
        if problems:
            raise InstallError("; ".join(problems))
        if not manifest.get("http"):
            raise InstallError("the app has no http deployment")

        bot = self.mattermost.add_user(str(manifest["app_id"]).lower(), is_bot=True)
        app = InstalledApp(manifest=manifest, secret=secret, bot=bot)
        ping = self._post(app, "/ping", self._zero_context(), acting_user=None)
        ping_ok = ping.status_code == 404 or (ping.status_code == 200 and _is_json(ping))
        if not ping_ok:
            raise InstallError(f"failed to install, /ping path is not accessible: {ping.status_code} {ping.text}")
        if manifest.get("icon"):
            icon = self.http.get(f"{app.root_url}/static/{clean_static_path(manifest['icon'])}")
            if icon.status_code != 200:
                raise InstallError(f"failed to get bot icon: failed to download icon: status {icon.status_code}")
        return app

    # --- bindings and calls -----------------------------------------------------------------

    def bindings(self, app: InstalledApp, user: User) -> list[dict[str, Any]]:
        """The app's bindings for ``user``, cleaned by the plugin's rules (protocol §6.3)."""
        call = app.manifest.get("bindings") or {"path": "/bindings"}
        if isinstance(call, str):
            call = {"path": call}
        result = self.call(app, user, call)
        if result.response.get("type") != "ok":
            return []
        data = result.response.get("data") or []
        granted = app.manifest.get("requested_locations") or []
        return clean_bindings(data, granted, app)

    def run_command(self, app: InstalledApp, user: User, command: str) -> CallResult:
        """Run a slash command such as ``/hello-jwt send`` as ``user``, through the bindings."""
        words = command.strip().split()
        if not words or not words[0].startswith("/"):
            raise ValueError(f"not a slash command: {command!r}")
        candidates = [
            b for top in self.bindings(app, user) if top.get("location") == "/command" for b in top.get("bindings", [])
        ]
        tokens = [words[0][1:], *words[1:]]
        binding: dict[str, Any] | None = None
        for position, token in enumerate(tokens):
            match = next((b for b in candidates if b.get("label", "").lower() == token.lower()), None)
            if match is None:
                raise ValueError(f"no binding for {token!r} in {command!r}")
            binding = match
            if not match.get("bindings"):
                tokens = tokens[position + 1 :]
                break
            candidates = match["bindings"]
        if binding is None or binding.get("bindings"):
            raise ValueError(f"{command!r} must select a subcommand")
        call = binding.get("submit") or (binding.get("form") or {}).get("submit")
        if not call:
            raise ValueError("No submit call in binding or form.")
        return self.call(app, user, call, raw_command=command.strip())

    def call(
        self,
        app: InstalledApp,
        user: User,
        call: dict[str, Any],
        *,
        values: dict[str, Any] | None = None,
        raw_command: str = "",
    ) -> CallResult:
        """POST a call to the app as the plugin does, expanding what the call asks for."""
        expand = dict(call.get("expand") or {})
        body: dict[str, Any] = {"path": call["path"], "expand": expand}
        if call.get("state") is not None:
            body["state"] = call["state"]
        if values:
            body["values"] = values
        context = self._context(app)
        acting_user = None
        level = str(expand.get("acting_user", "")).lstrip("+")
        if level in ("id", "summary", "all"):
            acting_user = user
            context["acting_user"] = _user_at_level(user, level)
        body["context"] = context
        if raw_command:
            body["raw_command"] = raw_command
        return _call_result(self._post(app, call["path"], body, acting_user=acting_user))

    # --- the wire ---------------------------------------------------------------------------

    def sign(self, app: InstalledApp, acting_user: User | None) -> str:
        """A token as the plugin signs it: HS256, exp = now + 15 min, acting_user_id if expanded."""
        claims: dict[str, Any] = {"exp": int(time.time()) + TOKEN_LIFETIME}
        if acting_user is not None:
            claims["acting_user_id"] = acting_user.id
        return str(jwt.encode(claims, app.secret, algorithm="HS256"))

    def _post(self, app: InstalledApp, path: str, body: dict[str, Any], *, acting_user: User | None) -> httpx.Response:
        url = app.root_url.rstrip("/") + "/" + path.lstrip("/")
        headers = {
            "Content-Type": "application/json",
            "Mattermost-App-Authorization": f"Bearer {self.sign(app, acting_user)}",
        }
        return self.http.post(url, content=_go_json(body), headers=headers)

    def _zero_context(self) -> dict[str, Any]:
        context = {"app_id": "", "mattermost_site_url": "", "app_path": "", "bot_user_id": "", "oauth2": {}}
        return {"path": "/ping", "context": context}

    def _context(self, app: InstalledApp) -> dict[str, Any]:
        context: dict[str, Any] = {
            "app_id": "",
            "mattermost_site_url": self.mattermost.url,
            "developer_mode": True,
            "app_path": f"/plugins/{PLUGIN_ID}/apps/{app.app_id}",
            "bot_user_id": app.bot.id,
        }
        if "act_as_bot" in (app.manifest.get("requested_permissions") or []):
            context["bot_access_token"] = app.bot.token
        context["oauth2"] = {}
        return context


def clean_bindings(bindings: Any, granted: list[str], app: InstalledApp, parent: str = "") -> list[dict[str, Any]]:
    """cleanAppBinding, recursively (protocol §6.3)."""
    if not isinstance(bindings, list):
        return []
    cleaned = []
    for original in bindings:
        if not isinstance(original, dict):
            continue
        binding = copy.deepcopy(original)
        location = str(binding.get("location") or "").strip()
        label = str(binding.get("label") or "")
        if not location and not label:
            continue
        location = location or label
        binding["location"] = location
        full = parent + ("" if location.startswith("/") else "/") + location
        if not any(full.startswith(g) for g in granted):
            continue
        if parent:
            binding["app_id"] = app.app_id
        if full.startswith("/command/"):
            label = (label or location).strip()
            if " " in label or "\t" in label:
                continue
            binding["label"] = label
        icon = binding.get("icon")
        if icon and not ICON_SUFFIX_OK.match(str(icon)):
            name = clean_static_path(icon)
            if name is None:
                binding.pop("icon")
            else:
                binding["icon"] = f"/plugins/{PLUGIN_ID}/apps/{app.app_id}/static/{name}"
        children = binding.get("bindings")
        if children:
            binding["bindings"] = clean_bindings(children, granted, app, full)
            if not binding["bindings"]:
                continue
        has = [bool(binding.get("submit")), bool(binding.get("form")), bool(binding.get("bindings"))]
        if sum(has) != 1 and parent:
            continue
        cleaned.append(binding)
    return cleaned


def _user_at_level(user: User, level: str) -> dict[str, Any]:
    if level == "id":
        return {
            "id": user.id,
            "delete_at": 0,
            "username": "",
            "auth_service": "",
            "email": "",
            "nickname": "",
            "first_name": "",
            "last_name": "",
            "position": "",
            "roles": "",
            "locale": "",
            "timezone": None,
            "disable_welcome_email": False,
        }
    return {**user.as_json(), "email": f"{user.username}@example.com", "locale": "en"}


def _call_result(response: httpx.Response) -> CallResult:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 404:
        text = f"{response.request.url}: not found"
        return CallResult(404, body, {"type": "error", "text": f"upstream call failed: {text}"})
    if response.status_code != 200:
        return CallResult(
            response.status_code, body, {"type": "error", "text": f"upstream call failed: {response.text}"}
        )
    if not isinstance(body, dict):
        return CallResult(200, body, {"type": "error", "text": "upstream call failed: invalid JSON"})
    return CallResult(200, body, {**body, "type": body.get("type") or "ok"})


def _go_json(value: Any) -> bytes:
    """json.Marshal's output: compact, with <, > and & escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


def _is_json(response: httpx.Response) -> bool:
    try:
        response.json()
    except ValueError:
        return False
    return True


def _id_chars_ok(value: str) -> bool:
    return all(unicodedata.category(c)[0] in "LN" or c in "-_." for c in value)


def _valid_url(value: Any) -> bool:
    if not isinstance(value, str) or not value:
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
