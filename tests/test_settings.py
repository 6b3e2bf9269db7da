from __future__ import annotations

import stat
from pathlib import Path

import pytest

from hello_jwt.settings import SettingsError, load_settings


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
        ({"APP_SECRET": "s", "APP_PORT": "http"}, "APP_PORT must be a whole number"),
        ({"APP_SECRET": "s", "APP_PORT": "70000"}, "APP_PORT must be from 1 to 65535"),
        ({"APP_SECRET": "s", "APP_ROOT_URL": "localhost:8084"}, "APP_ROOT_URL must be an http(s) URL"),
        ({"APP_SECRET": "s", "LOG_LEVEL": "loud"}, "LOG_LEVEL must be one of"),
        ({"APP_SECRET": "s", "APP_WORKERS": "0"}, "APP_WORKERS must be from 1"),
    ],
)
def test_bad_configuration_stops_with_a_clear_message(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(environ)


def test_an_empty_secret_file_stops_start_up(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("\n")

    with pytest.raises(SettingsError, match="is empty"):
        load_settings({"APP_SECRET_FILE": str(secret_file)})
