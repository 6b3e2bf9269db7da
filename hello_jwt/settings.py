"""Settings: the only module that reads the environment."""

from __future__ import annotations

import logging
import math
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

PACKAGE_DIR = Path(__file__).resolve().parent
# In a checkout (make run) manifest.json and static/ sit beside the package and the data beside
# them; an installed wheel carries the two inside the package (pyproject.toml, force-include)
# and keeps its data in the working directory.
IN_CHECKOUT = (PACKAGE_DIR.parent / "manifest.json").is_file()
RESOURCE_DIR = PACKAGE_DIR.parent if IN_CHECKOUT else PACKAGE_DIR
DEFAULT_DATA_DIR = PACKAGE_DIR.parent / ".data" if IN_CHECKOUT else Path(".data")
SECRET_FILE_NAME = "secret"  # noqa: S105 (a file name)


class SettingsError(ValueError):
    """The configuration cannot work; the message says which variable and why."""


@dataclass(frozen=True)
class Settings:
    secret: str = field(repr=False)
    # Where the secret came from: "APP_SECRET", "APP_SECRET_FILE" or "generated" (the data file).
    secret_source: str = "APP_SECRET"  # noqa: S105 (a source name)
    host: str = "127.0.0.1"
    port: int = 8084
    root_url: str = "http://localhost:8084"
    log_level: str = "info"
    workers: int = 1
    data_dir: Path = DEFAULT_DATA_DIR
    manifest_path: Path = RESOURCE_DIR / "manifest.json"
    static_dir: Path = RESOURCE_DIR / "static"
    # DM delivery (hello_jwt.delivery).
    delivery_concurrency: int = 64  # by measurement: README "Benchmarks"
    delivery_queue_size: int = 2_000  # a full queue drains within SHUTDOWN_GRACE even at 200 ms per post
    delivery_max_attempts: int = 5
    delivery_deadline: float = 25.0
    shutdown_grace: float = 20.0

    @property
    def manifest_url(self) -> str:
        return f"{self.root_url}/manifest.json"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from the environment, creating the local secret file on first start. An
    unset variable takes the field's default, so each default is written once, in Settings."""
    env = os.environ if environ is None else environ
    port = _int(env, "APP_PORT", Settings.port, minimum=1, maximum=65535)
    root_url = env.get("APP_ROOT_URL", f"http://localhost:{port}").rstrip("/")
    _check_root_url(root_url)
    data_dir = Path(env.get("APP_DATA_DIR", Settings.data_dir))
    secret, source = _load_secret(env, data_dir)
    log_level = env.get("LOG_LEVEL", Settings.log_level).lower()
    if log_level not in ("critical", "error", "warning", "info", "debug"):
        raise SettingsError(f"LOG_LEVEL must be one of critical, error, warning, info, debug; got {log_level!r}")
    return Settings(
        secret=secret,
        secret_source=source,
        host=env.get("APP_HOST", Settings.host),
        port=port,
        root_url=root_url,
        log_level=log_level,
        workers=_int(env, "APP_WORKERS", Settings.workers, minimum=1, maximum=64),
        data_dir=data_dir,
        delivery_concurrency=_int(env, "DM_CONCURRENCY", Settings.delivery_concurrency, minimum=1, maximum=1024),
        delivery_queue_size=_int(env, "DM_QUEUE_SIZE", Settings.delivery_queue_size, minimum=1, maximum=1_000_000),
        delivery_max_attempts=_int(env, "DM_MAX_ATTEMPTS", Settings.delivery_max_attempts, minimum=1, maximum=20),
        shutdown_grace=_seconds(env, "SHUTDOWN_GRACE", Settings.shutdown_grace, maximum=3600.0),
    )


def _load_secret(env: Mapping[str, str], data_dir: Path) -> tuple[str, str]:
    if "APP_SECRET" in env:
        secret = env["APP_SECRET"].strip()
        if not secret:
            raise SettingsError("APP_SECRET is set but empty: a JWT secret must never be empty")
        return secret, "APP_SECRET"
    if "APP_SECRET_FILE" in env:
        if not env["APP_SECRET_FILE"].strip():
            raise SettingsError("APP_SECRET_FILE is set but empty: give the path of a file holding the JWT secret")
        path = Path(env["APP_SECRET_FILE"])
        try:
            secret = path.read_text(encoding="utf-8").strip()
        except IsADirectoryError:
            raise SettingsError(f"APP_SECRET_FILE {str(path)!r} is a directory, not a file") from None
        except OSError as exc:
            raise SettingsError(f"APP_SECRET_FILE {str(path)!r} cannot be read: {exc.strerror}") from None
        if not secret:
            raise SettingsError(f"APP_SECRET_FILE {str(path)!r} is empty: a JWT secret must never be empty")
        return secret, "APP_SECRET_FILE"
    try:
        return _generated_secret(data_dir), "generated"
    except OSError as exc:
        raise SettingsError(
            f"APP_DATA_DIR {str(data_dir)!r} cannot hold the generated secret: {exc.strerror or exc}"
        ) from None


def _generated_secret(data_dir: Path) -> str:
    """Read the local secret, creating it (0600) on first start; safe when workers race."""
    path = data_dir / SECRET_FILE_NAME
    if data_dir.exists() and not data_dir.is_dir():
        raise SettingsError(f"APP_DATA_DIR {str(data_dir)!r} is not a directory")
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        draft = data_dir / f".{SECRET_FILE_NAME}.{os.getpid()}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(secrets.token_urlsafe(32) + "\n")
        try:
            os.link(draft, path)  # atomic, and fails if another process got there first
        except FileExistsError:
            pass
        finally:
            draft.unlink()
        logging.getLogger(__name__).info("generated a new app secret in %s", path)
    secret = path.read_text(encoding="utf-8").strip()
    if not secret:
        raise SettingsError(f"the secret file {str(path)!r} is empty: delete it to generate a new one")
    return secret


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise SettingsError(f"{name} must be from {minimum} to {maximum}, got {value}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float, *, maximum: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not (math.isfinite(value) and 0 <= value <= maximum):
        raise SettingsError(f"{name} must be from 0 to {maximum:g} seconds, got {raw!r}")
    return value


def _check_root_url(url: str) -> None:
    """The manifest URL is `<url>/manifest.json`, so the URL may carry a path prefix but nothing after it."""
    if any(char.isspace() or not char.isprintable() for char in url):
        raise SettingsError(f"APP_ROOT_URL must not contain spaces or control characters, got {url!r}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"APP_ROOT_URL must be an http(s) URL with a host, got {url!r}")
    if "@" in parts.netloc:  # the URL is not echoed: it would show the password
        raise SettingsError("APP_ROOT_URL must not contain user:password@ credentials")
    try:
        port_ok = parts.port != 0  # None (no port) is fine
    except ValueError:  # not a number, or above 65535
        port_ok = False
    if not port_ok:
        raise SettingsError(f"APP_ROOT_URL has an invalid port (must be 1 to 65535), got {url!r}")
    if "?" in url or "#" in url:
        raise SettingsError(f"APP_ROOT_URL must not have a query or fragment, got {url!r}")
