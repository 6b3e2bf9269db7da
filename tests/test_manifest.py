"""The served manifest must pass every validation rule of the Apps plugin (protocol §1.2)."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from hello_jwt.testing import validate_manifest


def test_manifest_is_public_and_passes_the_plugin_validation(client: TestClient) -> None:
    response = client.get("/manifest.json")

    assert response.status_code == 200
    manifest = response.json()
    assert validate_manifest(manifest) == []
    assert validate_manifest(manifest, require_display_name=False) == []


def test_manifest_declares_what_the_app_needs(client: TestClient) -> None:
    manifest = client.get("/manifest.json").json()

    assert manifest["app_id"] == "hello-jwt"
    assert re.fullmatch(r"[A-Za-z0-9._-]{3,32}", manifest["app_id"])
    assert len(manifest["version"]) <= 10
    assert manifest["display_name"] == "Hello, JWT!"
    assert manifest["description"]
    assert manifest["icon"] == "icon.png"
    assert manifest["homepage_url"].startswith("https://")
    assert "act_as_bot" in manifest["requested_permissions"]
    assert "/command" in manifest["requested_locations"]
    assert manifest["http"]["use_jwt"] is True


def test_manifest_root_url_comes_from_the_settings(client: TestClient) -> None:
    manifest = client.get("/manifest.json").json()

    assert manifest["http"]["root_url"] == "http://localhost:8084"


def test_manifest_icon_is_served_where_the_plugin_fetches_it(client: TestClient) -> None:
    icon = client.get("/manifest.json").json()["icon"]

    response = client.get(f"/static/{icon}")

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
