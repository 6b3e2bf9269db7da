"""hello_jwt.auth on its own, in a bare Starlette app: what it refuses, the key ring, the scope it
writes, configuration checks, websockets, Mount and root_path, and what it logs."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_call import call
from conftest import SECRET, sign
from rejections import HEADER, NOW, REJECTED, VALID
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from hello_jwt.auth import AuthFailure, JWTAuthMiddleware, JWTCredentials, JWTUser
from hello_jwt.testing import serve

USER_ID = "a" * 26


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "user": request.user.identity,
            "user_key": request.user.key_name,
            "auth_key": request.auth.key_name,
            "scopes": request.auth.scopes,
            "claims": request.user.claims,
        }
    )


async def public(request: Request) -> PlainTextResponse:
    return PlainTextResponse("public")


async def websocket_whoami(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"key": websocket.auth.key_name, "user": websocket.user.identity})
    await websocket.close()


ROUTES = [
    Route("/whoami", whoami, methods=["GET", "POST"]),
    Route("/public", public),
    Route("/files/{name:path}", public),
    WebSocketRoute("/ws", websocket_whoami),
]


def make_app(**options: Any) -> Starlette:
    options.setdefault("keys", SECRET)
    return Starlette(routes=ROUTES, middleware=[Middleware(JWTAuthMiddleware, **options)])


def bearer(token: str) -> dict[str, str]:
    return {HEADER: f"Bearer {token}"}


def hs256(header: bytes, payload: bytes, secret: str = SECRET) -> str:
    """Sign any header and payload bytes by hand, for tokens no JWT library would make."""
    signing_input = f"{_b64(header)}.{_b64(payload)}"
    mac = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def with_token(token: str) -> list[tuple[str, str]]:
    return [(HEADER, "Bearer " + token)]


JOSE_HS256 = b'{"alg":"HS256","typ":"JWT"}'
FUTURE = str(NOW + 900).encode()

# Cases the app-level table does not need but a library must survive: odd JSON where a JWT
# library would crash, and claims that are there but of the wrong type. All signed with SECRET.
LIBRARY_REJECTED: list[tuple[str, list[tuple[str, str]]]] = [
    ("deeply nested JOSE header", with_token(hs256(b"[" * 3000 + b"]" * 3000, b"{}"))),
    (
        "over-long JOSE header",
        with_token(hs256(b'{"alg":"HS256","x":"' + b"y" * 1200 + b'"}', b'{"exp":' + FUTURE + b"}")),
    ),
    ("alg is a list", with_token(hs256(b'{"alg":["HS256"]}', b'{"exp":' + FUTURE + b"}"))),
    ("alg is null", with_token(hs256(b'{"alg":null}', b'{"exp":' + FUTURE + b"}"))),
    ("alg lower case", with_token(hs256(b'{"alg":"hs256"}', b'{"exp":' + FUTURE + b"}"))),
    ("crit header", with_token(hs256(b'{"alg":"HS256","crit":["x"],"x":1}', b'{"exp":' + FUTURE + b"}"))),
    ("exp null", with_token(hs256(JOSE_HS256, b'{"exp":null}'))),
    ("exp a list", with_token(hs256(JOSE_HS256, b'{"exp":[1]}'))),
    ("exp Infinity", with_token(hs256(JOSE_HS256, b'{"exp":Infinity}'))),
    ("exp NaN", with_token(hs256(JOSE_HS256, b'{"exp":NaN}'))),
    ("exp true", with_token(hs256(JOSE_HS256, b'{"exp":true}'))),
    ("exp a numeric string", with_token(hs256(JOSE_HS256, b'{"exp":"' + FUTURE + b'"}'))),
    ("nbf in the future", [(HEADER, f"Bearer {sign({'exp': NOW + 900, 'nbf': NOW + 600})}")]),
    ("nbf null", with_token(hs256(JOSE_HS256, b'{"exp":' + FUTURE + b',"nbf":null}'))),
    ("claims a list", with_token(hs256(JOSE_HS256, b"[1]"))),
    ("claims not JSON", with_token(hs256(JOSE_HS256, b"exp"))),
    ("claims not UTF-8", with_token(hs256(JOSE_HS256, b'{"exp":' + FUTURE + b',"x":"\xff"}'))),
    ("claims deeply nested", with_token(hs256(JOSE_HS256, b'{"x":' + b"[" * 3000 + b"]" * 3000 + b"}"))),
    ("tab after the scheme", [(HEADER, f"Bearer\t{VALID}")]),
    ("no-break space before the scheme", [(HEADER, f"\xa0Bearer {VALID}")]),
    ("scheme glued to the token", [(HEADER, f"Bearer{VALID}")]),
    ("a semicolon after the token", [(HEADER, f"Bearer {VALID};")]),
]


ALL_REJECTED = REJECTED + LIBRARY_REJECTED


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(make_app()) as test_client:
        yield test_client


@pytest.mark.parametrize(("case", "headers"), ALL_REJECTED, ids=[case for case, _ in ALL_REJECTED])
def test_every_bad_token_is_refused_with_401(case: str, headers: list[tuple[str, str]]) -> None:
    raw_headers = [(name.lower().encode(), value.encode("latin-1")) for name, value in headers]

    status, body = call(make_app(), "/whoami", raw_headers)

    assert status == 401
    assert body.startswith(b"Unauthorized: ")


def test_a_valid_token_admits_and_exposes_claims_and_key_name(client: TestClient) -> None:
    response = client.get("/whoami", headers=bearer(VALID))

    assert response.status_code == 200
    assert response.json() == {
        "user": USER_ID,
        "user_key": "default",
        "auth_key": "default",
        "scopes": ["authenticated"],
        "claims": {"exp": NOW + 900, "acting_user_id": USER_ID},
    }


def test_the_scope_holds_starlette_types_and_never_the_token() -> None:
    seen: dict[str, Any] = {}

    async def capture(request: Request) -> Response:
        seen.update(user=request.user, auth=request.auth)
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/", capture)], middleware=[Middleware(JWTAuthMiddleware, keys=SECRET)])
    with TestClient(app) as client:
        assert client.get("/", headers=bearer(VALID)).status_code == 200

    assert isinstance(seen["user"], JWTUser)
    assert isinstance(seen["auth"], JWTCredentials)
    assert seen["user"].is_authenticated
    assert VALID not in repr(vars(seen["user"])) + repr(vars(seen["auth"]))


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
def test_the_scheme_is_matched_case_insensitively(client: TestClient, scheme: str) -> None:
    response = client.get("/whoami", headers={HEADER: f"{scheme} {VALID}"})

    assert response.status_code == 200


def test_a_token_whose_only_claim_is_exp_is_admitted_without_an_identity(client: TestClient) -> None:
    response = client.get("/whoami", headers=bearer(sign()))

    assert response.status_code == 200
    assert response.json()["user"] == ""


# --- key ring ----------------------------------------------------------------------------------

OLD_SECRET = "old-secret-0a9b8c7d"
NEW_SECRET = "new-secret-1f2e3d4c"


def test_during_rotation_the_old_and_the_new_key_are_both_accepted_and_named() -> None:
    with TestClient(make_app(keys={"old": OLD_SECRET, "new": NEW_SECRET})) as client:
        old = client.get("/whoami", headers=bearer(sign(secret=OLD_SECRET)))
        new = client.get("/whoami", headers=bearer(sign(secret=NEW_SECRET)))
        other = client.get("/whoami", headers=bearer(sign(secret=SECRET)))

    assert old.status_code == 200
    assert old.json()["auth_key"] == old.json()["user_key"] == "old"
    assert new.status_code == 200
    assert new.json()["auth_key"] == "new"
    assert other.status_code == 401


def test_a_key_removed_from_the_provider_stops_working_at_once() -> None:
    ring = {"old": OLD_SECRET, "new": NEW_SECRET}
    old_token = bearer(sign(secret=OLD_SECRET))
    with TestClient(make_app(keys=lambda: ring)) as client:
        before = client.get("/whoami", headers=old_token)
        del ring["old"]
        after = client.get("/whoami", headers=old_token)
        new = client.get("/whoami", headers=bearer(sign(secret=NEW_SECRET)))

    assert before.status_code == 200
    assert after.status_code == 401
    assert after.text == "Unauthorized: bad signature"
    assert new.status_code == 200


def test_a_key_ring_passed_as_a_dict_is_copied_so_later_edits_cannot_open_it() -> None:
    ring = {"new": NEW_SECRET}
    middleware = JWTAuthMiddleware(public, keys=ring)
    ring["intruder"] = OLD_SECRET

    status, _ = call(middleware, "/", [(HEADER.lower().encode(), f"Bearer {sign(secret=OLD_SECRET)}".encode())])

    assert status == 401


def test_an_async_key_provider_is_awaited_on_every_request() -> None:
    calls = 0

    async def provider() -> dict[str, str]:
        nonlocal calls
        calls += 1
        return {"store": SECRET}

    with TestClient(make_app(keys=provider)) as client:
        first = client.get("/whoami", headers=bearer(VALID))
        second = client.get("/whoami", headers=bearer(VALID))

    assert first.status_code == second.status_code == 200
    assert first.json()["auth_key"] == "store"
    assert calls == 2


@pytest.mark.parametrize(
    "provider",
    [lambda: {}, lambda: {"k": ""}, lambda: None, lambda: 1 / 0],
    ids=["empty ring", "empty secret", "not a mapping", "raises"],
)
def test_a_broken_key_provider_refuses_with_401_never_500(provider: Any, caplog: pytest.LogCaptureFixture) -> None:
    with TestClient(make_app(keys=provider), raise_server_exceptions=False) as client:
        response = client.get("/whoami", headers=bearer(VALID))

    assert response.status_code == 401
    assert response.text == "Unauthorized: no key to verify the token"
    assert any(record.levelno == logging.ERROR for record in caplog.records)


@pytest.mark.parametrize("secret", ["true", "null", "[1]", '{"a": "b"}', "12345678"])
def test_a_secret_that_looks_like_json_still_verifies(secret: str) -> None:
    with TestClient(make_app(keys=secret)) as client:
        response = client.get("/whoami", headers=bearer(sign(secret=secret)))

    assert response.status_code == 200


def test_bytes_secrets_and_other_hmac_algorithms_when_asked_for() -> None:
    app = make_app(keys={"raw": b"\x00\x01binary-secret"}, algorithms=["HS256", "HS512"])
    with TestClient(app) as client:
        hs512 = client.get("/whoami", headers=bearer(sign(secret="\x00\x01binary-secret", algorithm="HS512")))
        hs384 = client.get("/whoami", headers=bearer(sign(secret="\x00\x01binary-secret", algorithm="HS384")))

    assert hs512.status_code == 200
    assert hs384.status_code == 401
    assert hs384.text == "Unauthorized: algorithm not allowed"


# --- claims, leeway, clock ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "leeway", "status"),
    [
        ({"exp": 1000}, 0, 200),  # now == exp is still valid, as in jwt-go
        ({"exp": 999}, 0, 401),
        ({"exp": 990}, 10, 200),
        ({"exp": 989}, 10, 401),
        ({"exp": 2000, "nbf": 1000}, 0, 200),
        ({"exp": 2000, "nbf": 1001}, 0, 401),
        ({"exp": 2000, "nbf": 1010}, 10, 200),
        ({"exp": 1000.5}, 0, 200),
    ],
)
def test_exp_and_nbf_are_checked_against_the_clock_with_leeway(
    claims: dict[str, Any], leeway: int, status: int
) -> None:
    with TestClient(make_app(leeway=leeway, clock=lambda: 1000.0)) as client:
        response = client.get("/whoami", headers=bearer(sign(claims)))

    assert response.status_code == status


def test_required_claims_and_the_identity_claim_are_configurable() -> None:
    app = make_app(required_claims=["sub"], identity_claim="sub")
    with TestClient(app) as client:
        with_sub = client.get("/whoami", headers=bearer(sign({"exp": NOW + 900, "sub": "svc-7"})))
        without = client.get("/whoami", headers=bearer(sign({"exp": NOW + 900, "acting_user_id": USER_ID})))

    assert with_sub.status_code == 200
    assert with_sub.json()["user"] == "svc-7"
    assert without.status_code == 401
    assert without.text == "Unauthorized: missing claim sub"


# --- header parsing ----------------------------------------------------------------------------


def test_an_over_long_header_is_refused_before_any_parsing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="hello_jwt.auth")
    padded = f"Bearer {VALID}" + " " * (8193 - len(f"Bearer {VALID}"))

    status, _ = call(make_app(), "/whoami", [(HEADER.lower().encode(), padded.encode())])

    # A parsed header would pass: the value is a valid token followed by spaces, stripped as OWS.
    assert status == 401
    ours = [record for record in caplog.records if record.name == "hello_jwt.auth"]
    assert [record.auth_category for record in ours] == ["too_long"]  # type: ignore[attr-defined]


def test_max_header_bytes_lowers_the_limit() -> None:
    status, body = call(
        make_app(max_header_bytes=64), "/whoami", [(HEADER.lower().encode(), f"Bearer {VALID}".encode())]
    )

    assert status == 401
    assert body == b"Unauthorized: authorization header too long"


def test_two_header_lines_are_refused_even_if_they_differ_in_case() -> None:
    headers = [(HEADER.encode(), f"Bearer {VALID}".encode()), (HEADER.lower().encode(), f"Bearer {VALID}".encode())]

    status, body = call(make_app(), "/whoami", headers)

    assert status == 401
    assert body == b"Unauthorized: more than one authorization header"


def test_a_custom_header_name_ignores_the_default_one() -> None:
    with TestClient(make_app(header="X-Signed-By")) as client:
        default = client.get("/whoami", headers=bearer(VALID))
        custom = client.get("/whoami", headers={"X-Signed-By": f"Bearer {VALID}"})

    assert default.status_code == 401
    assert custom.status_code == 200


# --- public paths ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/public", 200),
        ("/public/", 401),
        ("/publicity", 401),
        ("/Public", 401),
        ("/files/icon.png", 200),
        ("/files/a/b.css", 200),
        ("/files", 401),
        ("/files-private/x", 401),
        ("/files/../whoami", 401),
        ("/files/./x", 401),
        ("/files//x", 401),
        ("/whoami", 401),
    ],
)
def test_public_paths_match_exactly_and_prefixes_only_as_prefixes(path: str, status: int) -> None:
    app = make_app(public_paths=["/public"], public_prefixes=["/files/"])

    assert call(app, path)[0] == status


def test_on_error_shapes_the_failure_response_sync_or_async() -> None:
    def as_json(conn: HTTPConnection, failure: AuthFailure) -> Response:
        return JSONResponse({"error": failure.category, "path": conn.url.path}, status_code=403)

    async def slow_text(conn: HTTPConnection, failure: AuthFailure) -> Response:
        return PlainTextResponse(f"nope: {failure.reason}", status_code=401)

    with TestClient(make_app(on_error=as_json)) as client:
        response = client.get("/whoami", headers=bearer(sign(secret="wrong")))
    with TestClient(make_app(on_error=slow_text)) as client:
        async_response = client.get("/whoami")

    assert response.status_code == 403
    assert response.json() == {"error": "bad_signature", "path": "/whoami"}
    assert async_response.status_code == 401
    assert async_response.text == "nope: no token"


# --- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"keys": ""}, "key 'default' must be a non-empty str or bytes secret"),
        ({"keys": {}}, "keys must be a non-empty secret"),
        ({"keys": ["a"]}, "keys must be a non-empty secret"),
        ({"keys": {"prod": ""}}, "key 'prod' must be a non-empty str or bytes secret"),
        ({"keys": {"": "s"}}, "key names must be non-empty strings, got ''"),
        (
            {"keys": {"pem": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"}},
            "key 'pem' looks like a public key",
        ),
        ({"algorithms": ["none"]}, "algorithms ['none'] are not allowed"),
        ({"algorithms": ["HS256", "RS256"]}, "algorithms ['RS256'] are not allowed"),
        ({"algorithms": []}, "algorithms must name at least one algorithm"),
        ({"algorithms": "HS256"}, "algorithms must be a collection"),
        ({"header": ""}, "header must be a valid HTTP header name, got ''"),
        ({"header": "Bad Header"}, "header must be a valid HTTP header name"),
        ({"header": None}, "header must be a valid HTTP header name, got None"),
        ({"scheme": "Bearer token"}, "scheme must be a single token"),
        ({"public_paths": "/manifest.json"}, "public_paths must be a collection of paths"),
        ({"public_paths": ["manifest.json"]}, "public_paths entries must start with '/'"),
        ({"public_prefixes": ["/static"]}, "public_prefixes entries must end with '/', got '/static'"),
        ({"public_prefixes": ["static/"]}, "public_prefixes entries must start with '/'"),
        ({"leeway": -1}, "leeway must be a whole number from 0 to 60, got -1"),
        ({"leeway": 61}, "leeway must be a whole number from 0 to 60"),
        ({"leeway": 1.5}, "leeway must be a whole number from 0 to 60"),
        ({"leeway": True}, "leeway must be a whole number from 0 to 60"),
        ({"required_claims": "sub"}, "required_claims must be a collection of claim names"),
        ({"required_claims": ["sub", ""]}, "required_claims entries must be non-empty strings"),
        ({"identity_claim": ""}, "identity_claim must be a non-empty claim name"),
        ({"on_error": "401"}, "on_error must be a callable"),
        ({"max_header_bytes": 10}, "max_header_bytes must be a whole number of at least 64, got 10"),
        ({"max_header_bytes": "8k"}, "max_header_bytes must be a whole number of at least 64"),
        ({"clock": 1000}, "clock must be a callable"),
    ],
)
def test_a_bad_configuration_fails_at_construction_with_a_precise_message(
    options: dict[str, Any], message: str
) -> None:
    options.setdefault("keys", SECRET)

    with pytest.raises(ValueError, match="^" + re.escape(message)):
        JWTAuthMiddleware(public, **options)


def test_in_a_starlette_app_a_bad_configuration_stops_start_up() -> None:
    # Starlette builds its middleware when the app starts (the lifespan), before any request.
    with pytest.raises(ValueError, match=r"^leeway must be"), TestClient(make_app(leeway=-1)):
        pass


def test_the_module_imports_nothing_else_from_hello_jwt() -> None:
    script = "import sys, hello_jwt.auth; print(sorted(m for m in sys.modules if m.startswith('hello_jwt')))"
    # A fresh interpreter: in this one the other tests have imported all of hello_jwt already.
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)  # noqa: S603

    assert result.stdout.strip() == "['hello_jwt', 'hello_jwt.auth']"
    assert (Path(__file__).parent.parent / "hello_jwt" / "py.typed").is_file()


# --- websocket, lifespan, Mount, root_path -----------------------------------------------------


def test_a_websocket_without_a_valid_token_is_closed_with_1008(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/ws", headers=bearer("x.y.z")):
        pass

    assert closed.value.code == 1008


def test_a_websocket_with_a_valid_token_is_served_with_the_key_name(client: TestClient) -> None:
    with client.websocket_connect("/ws", headers=bearer(VALID)) as websocket:
        assert websocket.receive_json() == {"key": "default", "user": USER_ID}


def test_lifespan_passes_through_the_middleware() -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    app = Starlette(routes=ROUTES, middleware=[Middleware(JWTAuthMiddleware, keys=SECRET)], lifespan=lifespan)
    with TestClient(app):
        assert events == ["startup"]

    assert events == ["startup", "shutdown"]


def test_inside_a_mount_public_paths_are_relative_to_the_mounted_app() -> None:
    inner = make_app(public_paths=["/public"])
    outer = Starlette(routes=[Mount("/api", app=inner)])
    with TestClient(outer) as client:
        public_response = client.get("/api/public")
        refused = client.get("/api/whoami")
        admitted = client.get("/api/whoami", headers=bearer(VALID))

    assert public_response.status_code == 200
    assert refused.status_code == 401
    assert admitted.status_code == 200


@pytest.mark.parametrize(
    ("path", "root_path", "status"),
    [
        ("/prefix/public", "/prefix", 200),  # ASGI: path includes root_path (uvicorn, Mount)
        ("/public", "/prefix", 200),  # a proxy that already stripped the prefix
        ("/prefix/whoami", "/prefix", 401),
        ("/prefixpublic", "/prefix", 401),
        ("/prefix", "/prefix", 401),
        ("/public/", "/public", 401),
    ],
)
def test_public_paths_are_matched_below_root_path(path: str, root_path: str, status: int) -> None:
    assert call(make_app(public_paths=["/public"]), path, root_path=root_path)[0] == status


def test_under_uvicorn_with_root_path_over_real_http() -> None:
    # uvicorn --root-path is for a proxy that strips the prefix: it forwards /public and uvicorn
    # hands the app path="/prefix/public", root_path="/prefix".
    with serve(make_app(public_paths=["/public"]), root_path="/prefix") as url, httpx.Client(base_url=url) as http:
        public_response = http.get("/public")
        refused = http.get("/whoami")
        admitted = http.get("/whoami", headers=bearer(VALID))

    assert public_response.status_code == 200
    assert refused.status_code == 401
    assert admitted.status_code == 200
    assert admitted.json()["user"] == USER_ID


# --- logging -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "category"),
    [
        (None, "missing"),
        ("Basic abc", "malformed"),
        ("Bearer not.a.jwt", "malformed"),
        (f"Bearer {VALID} {VALID}", "ambiguous"),
        (f"Bearer {sign(secret='wrong-' + SECRET)}", "bad_signature"),
        (f"Bearer {sign({'exp': NOW - 60})}", "expired"),
        (f"Bearer {sign(algorithm='HS512')}", "wrong_algorithm"),
        (f"Bearer {sign({'acting_user_id': USER_ID})}", "claims"),
        (f"Bearer {VALID}{'A' * 9000}", "too_long"),
    ],
)
def test_each_rejection_is_logged_once_at_info_with_category_and_path_never_the_token(
    caplog: pytest.LogCaptureFixture, value: str | None, category: str
) -> None:
    caplog.set_level(logging.DEBUG)
    headers = [] if value is None else [(HEADER.lower().encode(), value.encode())]

    status, _ = call(make_app(), "/whoami", headers)

    assert status == 401
    [record] = [record for record in caplog.records if record.name == "hello_jwt.auth"]
    assert record.levelno == logging.INFO
    assert record.getMessage() == f"JWT refused ({category}): http '/whoami'"
    assert record.auth_category == category  # type: ignore[attr-defined]
    logged = caplog.text + "".join(repr(vars(record)) for record in caplog.records)
    assert SECRET not in logged
    if value is not None:
        assert value.split(" ")[-1][:40] not in logged


def test_a_path_with_a_newline_stays_on_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="hello_jwt.auth")

    call(make_app(), "/whoami\nINFO forged line")

    [record] = caplog.records
    assert "\n" not in record.getMessage()


def test_hand_signed_tokens_are_accepted_when_well_formed() -> None:
    """The hs256 helper that builds the odd tokens above makes good ones too, so those 401s are
    about their content, not about the helper."""
    token = hs256(JOSE_HS256, json.dumps({"exp": NOW + 900}).encode())

    assert call(make_app(), "/whoami", [(HEADER.lower().encode(), f"Bearer {token}".encode())])[0] == 200
