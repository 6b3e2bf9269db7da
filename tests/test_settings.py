from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from hello_jwt.settings import SettingsError, load_settings

A_REGULAR_FILE = str(Path(__file__))


def test_defaults_serve_on_8084_with_a_matching_root_url(tmp_path: Path) -> None:
    settings = load_settings({"APP_SECRET": "s", "APP_DATA_DIR": str(tmp_path)})

    assert (settings.host, settings.port) == ("127.0.0.1", 8084)
    assert settings.root_url == "http://localhost:8084"
    assert settings.manifest_url == "http://localhost:8084/manifest.json"


def test_root_url_follows_the_port_and_loses_its_trailing_slash(tmp_path: Path) -> None:
    assert load_settings({"APP_SECRET": "s", "APP_PORT": "9000"}).root_url == "http://localhost:9000"
    assert load_settings({"APP_SECRET": "s", "APP_ROOT_URL": "https://apps.example.com/hello/"}).root_url == (
        "https://apps.example.com/hello"
    )
    assert load_settings({"APP_SECRET": "s", "APP_ROOT_URL": "http://10.0.0.5:8065/apps/hello"}).manifest_url == (
        "http://10.0.0.5:8065/apps/hello/manifest.json"
    )


@pytest.mark.parametrize(("raw", "seconds"), [("0", 0.0), ("1.5", 1.5), ("20", 20.0), ("3600", 3600.0)])
def test_shutdown_grace_takes_fractional_seconds(raw: str, seconds: float) -> None:
    assert load_settings({"APP_SECRET": "s", "SHUTDOWN_GRACE": raw}).shutdown_grace == seconds


def test_secret_from_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("from-file\n")

    settings = load_settings({"APP_SECRET": "from-env", "APP_SECRET_FILE": str(secret_file)})

    assert (settings.secret, settings.secret_source) == ("from-env", "APP_SECRET")


def test_secret_from_a_file_is_stripped(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("  from-file\n")

    settings = load_settings({"APP_SECRET_FILE": str(secret_file), "APP_DATA_DIR": str(tmp_path / "data")})

    assert (settings.secret, settings.secret_source) == ("from-file", "APP_SECRET_FILE")
    assert not (tmp_path / "data").exists()


def test_a_secret_is_generated_once_kept_private_and_reused(tmp_path: Path) -> None:
    first = load_settings({"APP_DATA_DIR": str(tmp_path)})
    second = load_settings({"APP_DATA_DIR": str(tmp_path)})

    secret_file = tmp_path / "secret"
    assert first.secret_source == "generated"
    assert len(first.secret) >= 32
    assert second.secret == first.secret
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret"]


def test_the_secret_never_shows_in_the_settings_repr(tmp_path: Path) -> None:
    settings = load_settings({"APP_SECRET": "very-secret-value"})

    assert "very-secret-value" not in repr(settings)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"APP_SECRET": ""}, "APP_SECRET is set but empty"),
        ({"APP_SECRET": "   "}, "APP_SECRET is set but empty"),
        ({"APP_SECRET_FILE": "/nonexistent/secret"}, "cannot be read"),
        ({"APP_SECRET_FILE": ""}, "APP_SECRET_FILE is set but empty"),
        ({"APP_SECRET_FILE": "/"}, "APP_SECRET_FILE '/' is a directory, not a file"),
        # Tests run as root, so a read-only directory would not stop mkdir; a regular file on the path does.
        (
            {"APP_DATA_DIR": A_REGULAR_FILE + "/data"},
            "APP_DATA_DIR .* cannot hold the generated secret: Not a directory",
        ),
        (
            {"APP_DATA_DIR": A_REGULAR_FILE + "/a/b"},
            "APP_DATA_DIR .* cannot hold the generated secret: Not a directory",
        ),
        ({"APP_DATA_DIR": A_REGULAR_FILE}, "APP_DATA_DIR .* is not a directory"),
        ({"APP_SECRET": "s", "APP_PORT": "http"}, "APP_PORT must be a whole number"),
        ({"APP_SECRET": "s", "APP_PORT": "70000"}, "APP_PORT must be from 1 to 65535"),
        ({"APP_SECRET": "s", "APP_ROOT_URL": "localhost:8084"}, "APP_ROOT_URL must be an http(s) URL"),
        ({"APP_SECRET": "s", "APP_ROOT_URL": "http://x/ y"}, "APP_ROOT_URL must not contain spaces"),
        ({"APP_SECRET": "s", "APP_ROOT_URL": "http://x/\ty"}, "APP_ROOT_URL must not contain spaces"),
        ({"APP_SECRET": "s", "APP_ROOT_URL": "http://x:99999"}, "APP_ROOT_URL has an invalid port"),
        ({"APP_SECRET": "s", "APP_ROOT_URL": "http://x:0"}, "APP_ROOT_URL has an invalid port"),
        ({"APP_SECRET": "s", "APP_ROOT_URL": "http://x:port"}, "APP_ROOT_URL has an invalid port"),
        ({"APP_SECRET": "s", "APP_ROOT_URL": "http://x/p?q=1#f"}, "APP_ROOT_URL must not have a query or fragment"),
        ({"APP_SECRET": "s", "APP_ROOT_URL": "http://x/p?"}, "APP_ROOT_URL must not have a query or fragment"),
        ({"APP_SECRET": "s", "APP_ROOT_URL": "http://x/p#f"}, "APP_ROOT_URL must not have a query or fragment"),
        ({"APP_SECRET": "s", "APP_ROOT_URL": "http://me:pw@x"}, "APP_ROOT_URL must not contain user:password@"),
        ({"APP_SECRET": "s", "SHUTDOWN_GRACE": "soon"}, "SHUTDOWN_GRACE must be a number of seconds"),
        ({"APP_SECRET": "s", "SHUTDOWN_GRACE": "-1"}, "SHUTDOWN_GRACE must be from 0 to 3600 seconds"),
        ({"APP_SECRET": "s", "SHUTDOWN_GRACE": "nan"}, "SHUTDOWN_GRACE must be from 0 to 3600 seconds"),
        ({"APP_SECRET": "s", "SHUTDOWN_GRACE": "inf"}, "SHUTDOWN_GRACE must be from 0 to 3600 seconds"),
        ({"APP_SECRET": "s", "SHUTDOWN_GRACE": "3601"}, "SHUTDOWN_GRACE must be from 0 to 3600 seconds"),
        ({"APP_SECRET": "s", "LOG_LEVEL": "loud"}, "LOG_LEVEL must be one of"),
        ({"APP_SECRET": "s", "APP_WORKERS": "0"}, "APP_WORKERS must be from 1"),
    ],
)
def test_bad_configuration_stops_with_a_clear_message(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(environ)


def test_credentials_in_the_root_url_are_not_echoed() -> None:
    with pytest.raises(SettingsError) as error:
        load_settings({"APP_SECRET": "s", "APP_ROOT_URL": "https://me:hunter2@apps.example.com"})

    assert "hunter2" not in str(error.value)


def test_start_up_reports_a_configuration_error_without_a_traceback() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "SHUTDOWN_", "DM_", "LOG_"))}
    env["APP_DATA_DIR"] = A_REGULAR_FILE + "/data"

    result = subprocess.run(
        [sys.executable, "-m", "hello_jwt"], env=env, capture_output=True, text=True, timeout=30, check=False
    )

    assert result.returncode == 2
    assert result.stderr.startswith("hello-jwt: configuration error: APP_DATA_DIR")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_an_empty_secret_file_stops_start_up(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("\n")

    with pytest.raises(SettingsError, match="is empty"):
        load_settings({"APP_SECRET_FILE": str(secret_file)})
