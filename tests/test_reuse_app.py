"""The deploy-hook app in reuse_app.py: the middleware lifted into an unrelated Starlette app."""

from __future__ import annotations

import ast
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import sign
from reuse_app import TOKEN_HEADER, create_deploy_hooks
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from hello_jwt.testing import serve

CI_SECRETS = {"jenkins": "jenkins-secret-5e6f", "buildkite": "buildkite-secret-7a8b"}


def deploy_token(ci: str, sub: str = "release-bot") -> dict[str, str]:
    return {TOKEN_HEADER: f"Bearer {sign({'exp': int(time.time()) + 60, 'sub': sub}, secret=CI_SECRETS[ci])}"}


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_deploy_hooks(CI_SECRETS)) as test_client:
        yield test_client


def test_it_imports_from_hello_jwt_only_the_public_middleware() -> None:
    tree = ast.parse((Path(__file__).parent / "reuse_app.py").read_text())
    imported = [
        (node.module, [alias.name for alias in node.names])
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hello_jwt")
    ]
    plain_imports = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]

    assert imported == [("hello_jwt.auth", ["JWTAuthMiddleware"])]
    assert not [name for name in plain_imports if name.startswith("hello_jwt")]


@pytest.mark.parametrize("ci", ["jenkins", "buildkite"])
def test_each_ci_server_is_admitted_and_named_by_its_key(client: TestClient, ci: str) -> None:
    response = client.post("/hooks/deploy", json={"service": "billing"}, headers=deploy_token(ci))

    assert response.status_code == 200
    assert response.json() == {"service": "billing", "ci": ci, "by": "release-bot"}


def test_the_mattermost_header_means_nothing_to_it(client: TestClient) -> None:
    token = deploy_token("jenkins")[TOKEN_HEADER]

    response = client.post(
        "/hooks/deploy", json={"service": "billing"}, headers={"Mattermost-App-Authorization": token}
    )

    assert response.status_code == 401


def test_a_token_without_sub_or_from_an_unknown_ci_is_refused(client: TestClient) -> None:
    no_sub = sign({"exp": int(time.time()) + 60}, secret=CI_SECRETS["jenkins"])
    unknown = sign({"exp": int(time.time()) + 60, "sub": "x"}, secret="gitlab-secret")

    for token in (no_sub, unknown):
        response = client.post("/hooks/deploy", json={"service": "billing"}, headers={TOKEN_HEADER: f"Bearer {token}"})
        assert response.status_code == 401


def test_the_health_check_is_public_and_sees_an_anonymous_user(client: TestClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"ok": True, "signed_in": False, "scopes": []}


def test_requires_on_a_public_path_refuses_with_403_not_a_crash(client: TestClient) -> None:
    # The middleware lets /status through untouched; @requires then says no, as Starlette would.
    response = client.get("/status", headers=deploy_token("jenkins"))

    assert response.status_code == 403


def test_its_websocket_needs_a_token_too(client: TestClient) -> None:
    with client.websocket_connect("/hooks/log", headers=deploy_token("buildkite")) as websocket:
        assert websocket.receive_text() == "following deploys for buildkite"
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/hooks/log"):
        pass

    assert closed.value.code == 1008


def test_it_works_over_real_http_under_uvicorn() -> None:
    with serve(create_deploy_hooks(CI_SECRETS)) as url, httpx.Client(base_url=url) as http:
        admitted = http.post("/hooks/deploy", json={"service": "search"}, headers=deploy_token("jenkins"))
        refused = http.post("/hooks/deploy", json={"service": "search"})

    assert admitted.status_code == 200
    assert admitted.json()["ci"] == "jenkins"
    assert refused.status_code == 401
