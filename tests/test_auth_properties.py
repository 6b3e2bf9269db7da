"""Property tests for hello_jwt.auth: whatever the header value, the middleware answers 200 only
when the value carries a token that python-jose itself calls valid, and 401 otherwise. Never a
500 (an exception would propagate out of the app and fail the test), never a door left open."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from typing import Any

from asgi_call import call
from conftest import SECRET, sign
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jose import jwt
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from hello_jwt.auth import JWTAuthMiddleware

NOW = int(time.time())
HEADER = b"mattermost-app-authorization"
KEY_NAME = "installation"


async def admitted(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.auth.key_name)


APP = Starlette(
    routes=[Route("/", admitted)],
    middleware=[Middleware(JWTAuthMiddleware, keys={KEY_NAME: SECRET})],
)

# What the middleware may admit: optional blanks, the scheme in any case, spaces, one compact JWS.
ADMISSIBLE = re.compile(rb"[ \t]*(?i:bearer) +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)[ \t]*")
# jose's checks of claims we do not use stay off, so the oracle is about signature, alg and time.
ORACLE_OPTIONS = {
    "require_exp": True,
    "verify_aud": False,
    "verify_iat": False,
    "verify_sub": False,
    "verify_jti": False,
}


def valid_per_jose(value: bytes) -> bool:
    match = ADMISSIBLE.fullmatch(value)
    if match is None:
        return False
    try:
        jwt.decode(match.group(1).decode(), SECRET, algorithms=["HS256"], options=ORACLE_OPTIONS)
    except Exception:  # the oracle's own crashes (e.g. TypeError on "exp": null) mean "not valid"
        return False
    return True


def status_for(*values: bytes) -> int:
    status, body = call(APP, "/", [(HEADER, value) for value in values])
    assert status in (200, 401)
    if status == 200:
        assert body == KEY_NAME.encode()
    return status


def check(value: bytes) -> None:
    if status_for(value) == 200:
        assert valid_per_jose(value), value


PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(st.binary(max_size=300))
def test_any_bytes(value: bytes) -> None:
    check(value)


@PROPERTY_SETTINGS
@given(st.text(alphabet=st.characters(max_codepoint=255), max_size=200))
def test_any_latin1_text(value: str) -> None:
    check(value.encode("latin-1"))


# --- near misses of real tokens ----------------------------------------------------------------

TOKENS = [
    sign({"exp": NOW + 900, "acting_user_id": "a" * 26}),
    sign({"exp": NOW + 900}),
    sign({"exp": NOW - 60}),
    sign({"exp": NOW + 900}, secret="not-" + SECRET),
    sign({"exp": NOW + 900}, algorithm="HS512"),
    sign({"acting_user_id": "a" * 26}),
]


@st.composite
def near_misses(draw: st.DrawFn) -> bytes:
    token = draw(st.sampled_from(TOKENS))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(token)))
        char = draw(st.characters(max_codepoint=255))
        edit = draw(st.sampled_from(["insert", "delete", "replace"]))
        if edit == "insert":
            token = token[:at] + char + token[at:]
        elif edit == "delete":
            token = token[:at] + token[at + 1 :]
        else:
            token = token[:at] + char + token[at + 1 :]
    scheme = draw(st.sampled_from(["Bearer", "bearer", "BEARER", "Basic", "", "Bearer,", "Token", "Bearer:"]))
    separator = draw(st.sampled_from([" ", "  ", "\t", "", " , ", "\x00"]))
    tail = draw(st.sampled_from(["", " ", "\t", ",", " x", ";", f" {TOKENS[0]}", f",{TOKENS[0]}"]))
    lead = draw(st.sampled_from(["", " ", "\t", "\xa0", "\r\n"]))
    return (lead + scheme + separator + token + tail).encode("latin-1")


@PROPERTY_SETTINGS
@given(near_misses())
def test_near_misses_of_real_tokens(value: bytes) -> None:
    check(value)


# --- tokens with any JOSE header and any claims, signed with the right key or not --------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)
ALGS = st.one_of(st.sampled_from(["HS256", "HS512", "none", "None", "RS256", "hs256", "HS256 "]), JSON_VALUES)
JOSE_HEADERS = st.one_of(
    JSON_VALUES,
    st.fixed_dictionaries({"alg": ALGS}, optional={"typ": JSON_VALUES, "crit": JSON_VALUES, "kid": JSON_VALUES}),
)
TIMES = st.one_of(st.sampled_from([NOW + 900, NOW - 60, NOW + 900.5, str(NOW + 900)]), JSON_VALUES)
CLAIMS = st.one_of(
    JSON_VALUES,
    st.fixed_dictionaries(
        {}, optional={"exp": TIMES, "nbf": TIMES, "iat": TIMES, "acting_user_id": JSON_VALUES, "aud": JSON_VALUES}
    ),
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: Any) -> st.SearchStrategy[bytes]:
    return st.just(json.dumps(value).encode())


@st.composite
def any_jws(draw: st.DrawFn) -> bytes:
    header = draw(st.one_of(JOSE_HEADERS.flatmap(_segment), st.binary(max_size=30)))
    claims = draw(st.one_of(CLAIMS.flatmap(_segment), st.binary(max_size=30)))
    secret = draw(st.sampled_from([SECRET, "not-" + SECRET, ""]))
    digest = draw(st.sampled_from([hashlib.sha256, hashlib.sha512]))
    signing_input = f"{_b64(header)}.{_b64(claims)}"
    signature = hmac.new(secret.encode(), signing_input.encode(), digest).digest()
    if draw(st.booleans()):
        signature = draw(st.binary(max_size=64))
    return f"Bearer {signing_input}.{_b64(signature)}".encode()


@PROPERTY_SETTINGS
@given(any_jws())
def test_any_jose_header_and_any_claims(value: bytes) -> None:
    check(value)


# --- the other direction and the multi-line rule -----------------------------------------------


@PROPERTY_SETTINGS
@given(
    st.fixed_dictionaries(
        {"exp": st.integers(NOW + 60, NOW + 10**9)},
        optional={"acting_user_id": st.text(max_size=26), "nbf": st.integers(0, NOW - 60), "extra": JSON_VALUES},
    ),
    st.sampled_from(["Bearer", "bearer", "BEARER"]),
)
def test_every_valid_token_is_admitted(claims: dict[str, Any], scheme: str) -> None:
    assert status_for(f"{scheme} {sign(claims)}".encode()) == 200


@PROPERTY_SETTINGS
@given(st.lists(st.one_of(st.just(f"Bearer {TOKENS[0]}".encode()), near_misses()), min_size=2, max_size=3))
def test_two_or_more_header_lines_are_always_refused(values: list[bytes]) -> None:
    assert status_for(*values) == 401
