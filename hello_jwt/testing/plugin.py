"""An emulator of the Mattermost Apps plugin, as an HTTP app that sets ``use_jwt`` sees it.

It installs an app the way the plugin does, fetches and cleans its bindings, and runs slash
commands as a given user: the call body is shaped as the plugin's Go encoder shapes it and the
token is signed as the plugin signs it. Protocol facts: shared/docs/apps-protocol.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from hello_jwt.testing.call_request import call_body, call_context, ping_body
from hello_jwt.testing.cleaning import clean_bindings, clean_form
from hello_jwt.testing.command import CommandError, parse_command
from hello_jwt.testing.expand import ExpandError, ExpandSubject, decode_expand, expand_context
from hello_jwt.testing.fake_mattermost import FakeMattermost
from hello_jwt.testing.manifest import (
    CALL_FIELDS,
    MAX_MANIFEST_BYTES,
    ManifestError,
    clean_static_path,
    decode_manifest,
    normalize_call,
    validate_manifest,
)
from hello_jwt.testing.profiles import PROFILES, V1_2_2, PluginProfile
from hello_jwt.testing.responses import CallResult, decode_problem, error_result, transport_failure, upstream_result
from hello_jwt.testing.upstream import HTTPUpstream, TooLarge, join_url
from hello_jwt.testing.users import User
from hello_jwt.testing.wire import go_json

CALL_TIMEOUT = 30.0  # config.RequestTimeout


class InstallError(Exception):
    """The install did not happen. ``response`` is what the admin sees: an error, or for v1.2.0's
    silent ping failure an ``ok`` with empty text; the message always says what went wrong."""

    def __init__(self, message: str, *, response: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.response = response or {"type": "error", "text": message}


@dataclass
class InstalledApp:
    """An app record as the plugin stores it."""

    manifest: dict[str, Any]
    secret: str = field(repr=False)
    bot: User
    install_message: str = ""  # what the admin saw after the install

    @property
    def app_id(self) -> str:
        return str(self.manifest["app_id"])

    @property
    def root_url(self) -> str:
        return str(self.manifest["http"]["root_url"])

    @property
    def granted_permissions(self) -> tuple[str, ...]:
        return tuple(self.manifest.get("requested_permissions") or ())

    @property
    def granted_locations(self) -> tuple[str, ...]:
        return tuple(self.manifest.get("requested_locations") or ())


@dataclass(frozen=True)
class Bindings:
    """What :meth:`AppsPlugin.fetch_bindings` found: the cleaned bindings, and why any were dropped."""

    bindings: list[dict[str, Any]]
    problems: list[str]  # what the plugin would log while cleaning
    result: CallResult


class AppsPlugin:
    """The Apps plugin of one (fake) Mattermost server, for HTTP apps.

    ``profile`` is a :class:`PluginProfile` or a version name (``"v1.2.0"``, ``"v1.2.1"``,
    ``"v1.2.2"``, ``"HEAD"``). ``user_agent`` is the client the simulated users type in
    (``"webapp"`` or ``"mobile"``). ``clock`` gives the time tokens are signed at.
    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        mattermost: FakeMattermost,
        *,
        profile: PluginProfile | str = V1_2_2,
        user_agent: str = "webapp",
        developer_mode: bool = True,
        timeout: float = CALL_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(profile, str):
            if profile not in PROFILES:
                raise ValueError(f"unknown plugin version {profile!r}; known: {', '.join(PROFILES)}")
            profile = PROFILES[profile]
        self.mattermost = mattermost
        self.profile = profile
        self.user_agent = user_agent
        self.developer_mode = developer_mode
        self.clock = clock
        self.apps: dict[str, InstalledApp] = {}
        self.upstream = HTTPUpstream(timeout=timeout, clock=clock)
        self.exchanges = self.upstream.exchanges  # every request made to apps, in order
        self.http = self.upstream.http
        self._admin: User | None = None

    def __enter__(self) -> AppsPlugin:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.upstream.close()

    @property
    def admin(self) -> User:
        """The system admin who installs apps (created on first use)."""
        if self._admin is None:
            self._admin = self.mattermost.add_user("sysadmin", roles="system_admin system_user")
        return self._admin

    # --- install (protocol §1.3) ------------------------------------------------------------

    def install(
        self, manifest_url: str, secret: str = "", *, admin: User | None = None, consent: bool = True
    ) -> InstalledApp:
        """``/apps install http <manifest_url>``, then the consent form submitted with ``secret``.

        Returns the installed app, or raises :class:`InstallError` with the admin's message.
        """
        admin = admin or self.admin
        manifest = self._fetch_manifest(manifest_url)
        requested = manifest.get("requested_locations") or manifest.get("requested_permissions")
        if requested and not consent:
            raise InstallError("consent to use APIs and locations is required to install")
        if not isinstance(manifest.get("http"), dict):
            raise InstallError("the app does not support the http deploy type")

        previous = self.apps.get(str(manifest["app_id"]))
        if previous is not None and not secret:
            secret = previous.secret  # a blank secret keeps the stored one
        draft = InstalledApp(manifest=manifest, secret=secret, bot=User(id="", username=""))
        checks = [self._ping_or_fail, self._check_icon]
        for check in checks if self.profile.pings_before_icon else reversed(checks):
            check(draft)

        app = InstalledApp(manifest=manifest, secret=secret, bot=self._ensure_bot(manifest))
        self.apps[app.app_id] = app
        message = f"Installed app `{app.app_id}`: {manifest.get('display_name', '')}."
        if manifest.get("on_install"):
            result = self._invoke(app, manifest["on_install"], acting_user=admin, purpose="on_install")
            text = str(result.response.get("text") or "")
            if not result.ok:
                message += f", despite on_install failure: {text}"
            elif text:
                message += f"\n\n{text}"
        elif app.granted_locations:
            result = self._invoke(app, self._bindings_call(app), acting_user=admin, purpose="bindings")
            if not result.ok:
                message += f", despite bindings failure: {result.response.get('text', '')}"
        app.install_message = message
        return app

    def _fetch_manifest(self, url: str) -> dict[str, Any]:
        try:
            response = self.upstream.get(url, purpose="manifest", limit=MAX_MANIFEST_BYTES)
        except TooLarge:
            raise InstallError("size limit of 1024Kb exceeded") from None
        except httpx.HTTPError as exc:
            raise InstallError(f"failed to get manifest: {exc}") from None
        content = response.content
        if response.status_code >= 400:
            raise InstallError(f"received status {response.status_code}: {content.decode(errors='replace')}")
        try:
            manifest = decode_manifest(content)
        except ManifestError as exc:
            raise InstallError(str(exc)) from None
        problems = validate_manifest(manifest, require_display_name=self.profile.requires_display_name)
        if problems:
            raise InstallError("invalid manifest: " + "; ".join(problems))
        return manifest

    def _ping_or_fail(self, app: InstalledApp) -> None:
        cause = self._ping(app)
        if cause is None:
            return
        if self.profile.ping_failure_is_silent:
            raise InstallError(
                f"{self.profile.version} aborted the install silently (the admin sees ok with no text): "
                f"/ping failed: {cause}",
                response={"type": "ok", "text": ""},
            )
        raise InstallError(f"failed to install, /ping path is not accessible: failed to call /ping endpoint: {cause}")

    def _ping(self, app: InstalledApp) -> str | None:
        """Why the ping failed, or None when it passed: 200 with JSON, or 404."""
        url = join_url(app.root_url, "/ping")
        try:
            response = self.upstream.post(
                url, go_json(ping_body()), secret=_secret(app), purpose="ping", timeout=self.profile.ping_timeout
            )
        except httpx.HTTPError as exc:
            return str(transport_failure("POST", url, exc).response["text"]).removeprefix("upstream call failed: ")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            return response.text
        return decode_problem(response.content) or None  # any CallResponse passes, even type "error"

    def _check_icon(self, app: InstalledApp) -> None:
        """The plugin fetches the icon for the bot's avatar (the fake Mattermost keeps no pictures)."""
        icon = app.manifest.get("icon")
        if not icon:
            return
        url = join_url(app.root_url, f"/static/{clean_static_path(icon)}")
        try:
            response = self.upstream.get(url, purpose="icon")  # static files are fetched without a token
        except httpx.HTTPError as exc:
            raise InstallError(f"failed to get bot icon: failed to download icon: {exc}") from None
        if response.status_code != 200:
            raise InstallError(
                f"failed to get bot icon: failed to download icon: received status {response.status_code}"
            )

    def _ensure_bot(self, manifest: dict[str, Any]) -> User:
        username = str(manifest["app_id"]).lower()
        existing = self.mattermost.user_by_username(username)
        if existing is not None and not existing.is_bot and self.profile.renames_taken_bot_username:
            username += "-app"
            existing = self.mattermost.user_by_username(username)
        if existing is not None:
            if not existing.is_bot:
                raise InstallError(f"failed to create bot: a user already owns the username {username!r}")
            return existing
        display = manifest.get("display_name") or manifest["app_id"]
        return self.mattermost.add_user(username, is_bot=True, bot_description=f"Bot account for `{display}` App.")

    # --- bindings (protocol §6) -----------------------------------------------------------

    def fetch_bindings(self, app: InstalledApp, user: User) -> Bindings:
        """The bindings call as ``user``'s client triggers it, and the plugin's cleaning of it."""
        if not app.granted_locations:
            return Bindings([], [], error_result("the app has no granted locations"))
        result = self._invoke(
            app,
            self._bindings_call(app),
            acting_user=user,
            purpose="bindings",
            user_agent=self.user_agent,
        )
        if not result.ok:
            return Bindings([], [f"bindings call failed: {result.response.get('text', '')}"], result)
        cleaned, problems = clean_bindings(
            result.response.get("data"),
            app_id=app.app_id,
            granted_locations=list(app.granted_locations),
            site_url=self.mattermost.url,
            user_agent=self.user_agent,
        )
        return Bindings(cleaned, problems, result)

    def bindings(self, app: InstalledApp, user: User) -> list[dict[str, Any]]:
        """The app's bindings for ``user``, cleaned by the plugin's rules (protocol §6.3)."""
        return self.fetch_bindings(app, user).bindings

    @staticmethod
    def _bindings_call(app: InstalledApp) -> dict[str, Any]:
        return dict(app.manifest.get("bindings") or {"path": "/bindings"})

    # --- user calls -------------------------------------------------------------------------

    def run_command(self, app: InstalledApp, user: User, command: str) -> CallResult:
        """Type a slash command such as ``/hello-jwt send --message "hi"`` as ``user``.

        The command is resolved through the app's cleaned bindings and parsed as the webapp
        parses it; raises :class:`CommandError` where the webapp would refuse it without sending.
        """
        parsed = parse_command(command, self.bindings(app, user), self.mattermost.user_by_username)
        return self.call(app, user, parsed.call, values=parsed.values, raw_command=command)

    def submit_form(self, app: InstalledApp, user: User, form: dict[str, Any], values: dict[str, Any]) -> CallResult:
        """Submit a form (as its modal would) with ``values``, keyed by field name."""
        cleaned, _ = clean_form(form, app_id=app.app_id, site_url=self.mattermost.url)
        if not cleaned.get("submit"):
            raise CommandError("No submit call in binding or form.")
        return self.call(app, user, cleaned["submit"], values=values)

    def call(
        self,
        app: InstalledApp,
        user: User,
        call: dict[str, Any] | str,
        *,
        values: dict[str, Any] | None = None,
        raw_command: str = "",
    ) -> CallResult:
        """A call from ``user``'s client through ``/plugins/com.mattermost.apps/api/v1/call``."""
        call = dict(normalize_call(call))
        path = str(call.get("path") or "")
        if not path.startswith("/") or ".." in path.split("/"):
            return error_result(f"invalid call path: {path!r}")
        if self.profile.forbids_reserved_paths and path in self._reserved_paths(app):
            return error_result("forbidden call path")
        call.setdefault("expand", {})  # the webapp always sends {...call.expand}
        return self._invoke(
            app,
            call,
            acting_user=user,
            purpose="call",
            values=values,
            raw_command=raw_command,
            user_agent=self.user_agent,
            track_as_submit=True,
            metadata=True,
        )

    def _reserved_paths(self, app: InstalledApp) -> set[str]:
        paths = {"/ping"}
        for name in CALL_FIELDS:
            call = app.manifest.get(name)
            if isinstance(call, dict) and call.get("path") and name != "bindings":
                paths.add(str(call["path"]))
        return paths

    # --- the wire ---------------------------------------------------------------------------

    def _invoke(
        self,
        app: InstalledApp,
        call: dict[str, Any],
        *,
        acting_user: User | None,
        purpose: str,
        values: dict[str, Any] | None = None,
        raw_command: str = "",
        user_agent: str = "",
        track_as_submit: bool = False,
        metadata: bool = False,
    ) -> CallResult:
        subject = ExpandSubject(app.app_id, str(app.manifest.get("version") or ""), app.bot, app.granted_permissions)
        try:
            expand = decode_expand(call.get("expand"))
            expanded = expand_context(expand or {}, subject, acting_user)
        except ExpandError as exc:
            return error_result(f"failed to expand context: {exc}")
        forwarded = self.profile.forwards_user_agent
        context = call_context(
            site_url=self.mattermost.url,
            app_id=app.app_id,
            bot_user_id=app.bot.id,
            bot_access_token=app.bot.token if "act_as_bot" in app.granted_permissions else "",
            developer_mode=self.developer_mode,
            expanded=expanded,
            user_agent=user_agent if forwarded else "",
            track_as_submit=track_as_submit and forwarded,
        )
        path = str(call["path"])
        body = call_body(path, context, expand=expand, state=call.get("state"), values=values, raw_command=raw_command)
        acting_user_id = expanded["acting_user"]["id"] if "acting_user" in expanded else ""
        url = join_url(app.root_url, path)
        try:
            response = self.upstream.post(
                url, go_json(body), secret=_secret(app), acting_user_id=acting_user_id, purpose=purpose
            )
        except httpx.HTTPError as exc:
            result = transport_failure("POST", url, exc)
        else:
            result = upstream_result(response, app_id=app.app_id, site_url=self.mattermost.url)
        if metadata:
            result.response["app_metadata"] = {"bot_user_id": app.bot.id, "bot_username": app.bot.username}
        return result


def _secret(app: InstalledApp) -> str | None:
    """The key to sign calls to ``app`` with, or None when it does not use JWTs."""
    return app.secret if app.manifest["http"].get("use_jwt") else None
