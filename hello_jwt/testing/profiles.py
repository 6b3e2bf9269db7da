"""What differs between Apps plugin versions, as far as an app can tell (protocol §0)."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class PluginProfile:
    """One version of the Apps plugin. Pick one of :data:`PROFILES`, or make your own."""

    version: str
    requires_display_name: bool  # #439
    ping_timeout: float  # seconds
    pings_before_icon: bool  # v1.2.0 fetched the icon first
    ping_failure_is_silent: bool  # v1.2.0: the admin gets "ok" with no text and nothing is installed
    forbids_reserved_paths: bool  # #438, #447: users may not call /ping or lifecycle paths
    renames_taken_bot_username: bool  # retries "<app_id>-app" when a non-bot owns the name
    forwards_user_agent: bool  # #480: context.user_agent and track_as_submit reach the app


V1_2_0 = PluginProfile(
    version="v1.2.0",
    requires_display_name=False,
    ping_timeout=1.0,
    pings_before_icon=False,
    ping_failure_is_silent=True,
    forbids_reserved_paths=False,
    renames_taken_bot_username=False,
    forwards_user_agent=False,
)
V1_2_1 = replace(
    V1_2_0,
    version="v1.2.1",
    requires_display_name=True,
    ping_timeout=2.0,
    pings_before_icon=True,
    ping_failure_is_silent=False,
    forbids_reserved_paths=True,
    renames_taken_bot_username=True,
)
V1_2_2 = replace(V1_2_1, version="v1.2.2")
HEAD = replace(V1_2_2, version="HEAD", forwards_user_agent=True)
PROFILES = {profile.version: profile for profile in (V1_2_0, V1_2_1, V1_2_2, HEAD)}
