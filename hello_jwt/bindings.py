"""What the app offers in Mattermost: the /hello-jwt command and a channel-header button, both
opening the "Send a hello" form (protocol §5 and §6)."""

from __future__ import annotations

from typing import Any

COMMAND = "hello-jwt"
ICON = "icon.png"  # relative to the static folder, as the plugin expects

MESSAGE_FIELD = "message"
MESSAGE_MAX_LENGTH = 200

# acting_user must be expanded: otherwise neither the call nor its token names the user to DM.
SEND_CALL: dict[str, Any] = {"path": "/send", "expand": {"acting_user": "+id"}}


def send_form() -> dict[str, Any]:
    """The "Send a hello" form: a modal from the channel header, flags after ``/hello-jwt send``."""
    return {
        "title": "Send a hello",
        "header": "The app's bot sends you a DM once it has checked the JWT.",
        "icon": ICON,
        "fields": [
            {
                # The plugin drops fields whose name or label is more than one word (§5.2);
                # modal_label is what the modal shows, so it may be longer.
                "name": MESSAGE_FIELD,
                "type": "text",
                "label": MESSAGE_FIELD,
                "modal_label": "Message (optional)",
                "hint": "a few words for the DM",
                "description": f"Added to the DM after the check result; at most {MESSAGE_MAX_LENGTH} characters.",
                "is_required": False,
                "max_length": MESSAGE_MAX_LENGTH,
            }
        ],
        # Embedded, not behind form.source: the webapp would overwrite a fetched form with this
        # one and find no submit (§6.4).
        "submit": SEND_CALL,
    }


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
                            "hint": '[--message "text"]',
                            "form": send_form(),
                        }
                    ],
                }
            ],
        },
        {
            "location": "/channel_header",
            "bindings": [
                {
                    # The webapp drops channel-header buttons without an icon (§6.3).
                    "location": "send",
                    "label": "Send a hello",
                    "icon": ICON,
                    "description": "The app's bot sends you a DM once it has checked the JWT",
                    "form": send_form(),
                }
            ],
        },
    ]
