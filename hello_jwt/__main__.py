"""`python -m hello_jwt` (what `make run` calls): print how to install the app, then serve it."""

from __future__ import annotations

import copy
import sys
from typing import Any

import uvicorn
import uvicorn.config

from hello_jwt.settings import Settings, SettingsError, load_settings

RUNNING_CALLS_GRACE = 5  # seconds


def install_instructions(settings: Settings) -> str:
    lines = [
        "hello-jwt is starting.",
        "To install it, run this in Mattermost as a system admin:",
        "",
        f"    /apps install http {settings.manifest_url}",
        "",
    ]
    if settings.secret_source == "generated":  # noqa: S105 (a source name, not a secret)
        lines += [
            "When asked for the 'Outgoing JWT Secret', enter:",
            "",
            f"    {settings.secret}",
            "",
            f"(kept in {settings.data_dir}/secret; set APP_SECRET or APP_SECRET_FILE to choose your own)",
        ]
    else:
        lines.append(f"When asked for the 'Outgoing JWT Secret', enter the secret from {settings.secret_source}.")
    lines += ["Then try it with: /hello-jwt send", ""]
    return "\n".join(lines)


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging setup plus our own loggers; applied in every worker process too."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["formatters"]["app"] = {
        "()": "logging.Formatter",
        "fmt": "%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    }
    config["handlers"]["app"] = {"formatter": "app", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"}
    config["loggers"]["hello_jwt"] = {"handlers": ["app"], "level": level.upper(), "propagate": False}
    return config


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"hello-jwt: configuration error: {exc}", file=sys.stderr)
        return 2
    print(install_instructions(settings), flush=True)
    uvicorn.run(
        "hello_jwt.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        log_config=log_config(settings.log_level),
        proxy_headers=False,
        # On SIGTERM uvicorn stops taking calls and gives running ones this long (they take
        # milliseconds); then the lifespan delivers the accepted DMs within SHUTDOWN_GRACE.
        timeout_graceful_shutdown=RUNNING_CALLS_GRACE,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
