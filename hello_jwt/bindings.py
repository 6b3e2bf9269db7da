"""What the app offers in Mattermost: the /hello-jwt command (protocol §6)."""

from __future__ import annotations

from typing import Any

COMMAND = "hello-jwt"
ICON = "icon.png"  # relative to the static folder, as the plugin expects

# acting_user must be expanded: otherwise neither the call nor its token names the user to DM.
SEND_CALL: dict[str, Any] = {"path": "/send", "expand": {"acting_user": "+id"}}


def bindings() -> list[dict[str, Any]]:
    return [
        {
            "location": "/command",
            "bindings": [
                {
                    "location": COMMAND,
                    "label": COMMAND,
                    "icon": ICON,
                    "description": "Proves that calls really come from your Mattermost server",
                    "hint": "[send]",
                    "bindings": [
                        {
                            "location": "send",
                            "label": "send",
                            "description": "The app's bot sends you a DM once it has checked the JWT",
                            "submit": SEND_CALL,
                        }
                    ],
                }
            ],
        }
    ]
