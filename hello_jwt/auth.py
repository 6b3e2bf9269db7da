"""A pure-ASGI Starlette middleware that admits a request only with a valid shared-secret JWT.

It imports nothing from the rest of hello_jwt, so it can be lifted into any Starlette app:

    app = Starlette(routes=..., middleware=[
        Middleware(JWTAuthMiddleware, keys={"prod": secret}, public_paths=["/manifest.json"]),
    ])

Endpoints read the verified claims from ``request.user.claims`` and the name of the key that
verified the token from ``request.auth.key_name`` (also ``request.user.key_name``); they never
see the token itself.
"""

from __future__ import annotations

import binascii
import functools
import inspect
import json
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeGuard

from jose import jwk
from jose.backends.base import Key
from jose.exceptions import JOSEError
from jose.utils import base64url_decode
from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser
from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "AuthFailure",
    "ErrorHandler",
    "JWTAuthMiddleware",
    "JWTCredentials",
    "JWTUser",
    "KeyProvider",
    "KeyRing",
    "Keys",
    "default_error_response",
]

logger = logging.getLogger(__name__)

Secret = str | bytes
KeyRing = Mapping[str, Secret]
KeyProvider = Callable[[], KeyRing | Awaitable[KeyRing]]
Keys = Secret | KeyRing | KeyProvider
ErrorHandler = Callable[[HTTPConnection, "AuthFailure"], Response | Awaitable[Response]]

DEFAULT_KEY_NAME = "default"
SYMMETRIC_ALGORITHMS = ("HS256", "HS384", "HS512")
MAX_LEEWAY_SECONDS = 60
MIN_HEADER_BYTES = 64
# A real JOSE header is under 100 characters. Bounding it also bounds how deeply nested the JSON
# that is parsed before the signature is checked can be (deep nesting raises RecursionError).
MAX_JOSE_HEADER_CHARS = 1024
# RFC 7230 token characters: what a header name or an auth scheme may be made of.
_HTTP_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# A base64url JWS in compact form: header.payload.signature, nothing else.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# Dot segments or empty segments make a path mean something else once normalised downstream.
_AMBIGUOUS_SEGMENT = re.compile(r"(^|/)\.{1,2}(/|$)|//")

# name -> algorithm -> ready-made HMAC key. Handing jose a Key object (never the raw secret)
# matters: given a string, jose first tries it as JSON, so a secret such as "true" or "[1]"
# would never verify anything.
_VerifyingKeys = list[tuple[str, dict[str, Key]]]


class AuthFailure(Exception):
    """Why a request was refused: ``category`` is stable (for logs, metrics and ``on_error``),
    ``reason`` is the short text sent to the caller."""

    def __init__(self, category: str, reason: str) -> None:
        super().__init__(reason)
        self.category = category
        self.reason = reason


class JWTUser(BaseUser):
    """The caller, as named by a verified token: its claims and the name of the verifying key."""

    def __init__(self, claims: Mapping[str, Any], key_name: str, identity_claim: str) -> None:
        self.claims: dict[str, Any] = dict(claims)
        self.key_name = key_name
        value = self.claims.get(identity_claim)
        self.user_id: str | None = value if isinstance(value, str) and value else None

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.user_id or ""

    @property
    def identity(self) -> str:
        return self.user_id or ""

    def __repr__(self) -> str:
        return f"JWTUser(user_id={self.user_id!r}, key_name={self.key_name!r})"


class JWTCredentials(AuthCredentials):
    """Starlette credentials with the scope ``authenticated`` and the name of the verifying key."""

    def __init__(self, key_name: str, scopes: Iterable[str] = ("authenticated",)) -> None:
        super().__init__(list(scopes))
        self.key_name = key_name


def default_error_response(conn: HTTPConnection, failure: AuthFailure) -> Response:
    """401 with a short plain-text reason: the Apps plugin shows a non-200 body verbatim."""
    description = failure.reason.replace('"', "'")
    return PlainTextResponse(
        f"Unauthorized: {failure.reason}",
        status_code=401,
        headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"'},
    )


class JWTAuthMiddleware:
    """Verify ``<header>: <scheme> <jwt>`` on every http and websocket request but public ones.

    Keyword arguments (see README, "Use the middleware in your own Starlette app"):
      keys: one secret, a mapping ``name -> secret`` (a key ring), or a callable (sync or async)
        called on every request that returns such a mapping, for keys kept in a file or a store.
      algorithms: accepted HMAC algorithms; HS256 only by default.
      header: the request header that carries the token.
      scheme: the auth scheme before the token, matched case-insensitively (RFC 6750).
      public_paths: paths served without a token, matched exactly.
      public_prefixes: path prefixes served without a token, each ending with "/".
      leeway: seconds of clock skew allowed on ``exp``/``nbf``, 0 to 60.
      required_claims: claims a token must carry; ``exp`` is always required.
      identity_claim: the claim naming the caller, exposed as ``request.user.identity``.
      on_error: builds the failure response from the connection and an ``AuthFailure``.
      max_header_bytes: longer headers are refused without being parsed.
      clock: returns the current Unix time in seconds; replaceable in tests.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        keys: Keys,
        algorithms: Iterable[str] = ("HS256",),
        header: str = "Mattermost-App-Authorization",
        scheme: str = "Bearer",
        public_paths: Iterable[str] = (),
        public_prefixes: Iterable[str] = (),
        leeway: int = 0,
        required_claims: Iterable[str] = ("exp",),
        identity_claim: str = "acting_user_id",
        on_error: ErrorHandler = default_error_response,
        max_header_bytes: int = 8192,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self._algorithms = _check_algorithms(algorithms)
        self._static_keys: _VerifyingKeys | None = None
        self._key_provider: KeyProvider | None = None
        if callable(keys):
            self._key_provider = keys
        else:
            self._static_keys = _verifying_keys(keys, self._algorithms)
        self._header = _check_http_token(header, "header", "a valid HTTP header name").lower().encode("latin-1")
        self._scheme = _check_http_token(scheme, "scheme", "a single token such as 'Bearer'").lower()
        self._public_paths = frozenset(_check_paths(public_paths, "public_paths"))
        self._public_prefixes = tuple(_check_prefixes(public_prefixes))
        self._leeway = _check_whole_number(leeway, "leeway", 0, MAX_LEEWAY_SECONDS)
        self._required_claims = _check_claim_names(required_claims)
        if not isinstance(identity_claim, str) or not identity_claim:
            raise ValueError(f"identity_claim must be a non-empty claim name, got {identity_claim!r}")
        self._identity_claim = identity_claim
        if not callable(on_error):
            raise ValueError("on_error must be a callable (connection, failure) -> Response")
        self._on_error = on_error
        self._max_header_bytes = _check_whole_number(max_header_bytes, "max_header_bytes", MIN_HEADER_BYTES, None)
        if not callable(clock):
            raise ValueError("clock must be a callable returning the Unix time in seconds")
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if self._is_public(scope):
            # As Starlette's own AuthenticationMiddleware does for an anonymous caller, so that
            # request.user, request.auth and @requires work on public routes too.
            scope.setdefault("user", UnauthenticatedUser())
            scope.setdefault("auth", AuthCredentials())
            await self.app(scope, receive, send)
            return

        try:
            token = self._token_from(scope)
            claims, key_name = self._verify(token, await self._current_keys())
        except AuthFailure as failure:
            # %r keeps a path with control characters on one log line.
            logger.info(
                "JWT refused (%s): %s %r",
                failure.category,
                scope["type"],
                scope["path"],
                extra={"auth_category": failure.category, "auth_path": scope["path"]},
            )
            await self._refuse(scope, receive, send, failure)
            return

        scope["user"] = JWTUser(claims, key_name, self._identity_claim)
        scope["auth"] = JWTCredentials(key_name)
        await self.app(scope, receive, send)

    def _is_public(self, scope: Scope) -> bool:
        path = _route_path(scope)
        if path in self._public_paths:
            return True
        if _AMBIGUOUS_SEGMENT.search(path):
            return False
        return path.startswith(self._public_prefixes)

    def _token_from(self, scope: Scope) -> str:
        values = [value for name, value in scope["headers"] if name.lower() == self._header]
        if not values:
            raise AuthFailure("missing", "no token")
        if len(values) > 1:
            raise AuthFailure("ambiguous", "more than one authorization header")
        raw: bytes = values[0]
        if len(raw) > self._max_header_bytes:
            raise AuthFailure("too_long", "authorization header too long")
        # Only SP and HTAB are HTTP whitespace; str.strip() alone would also eat e.g. U+00A0.
        scheme, _, token = raw.decode("latin-1").strip(" \t").partition(" ")
        if scheme.lower() != self._scheme:
            raise AuthFailure("malformed", "wrong authorization scheme")
        token = token.lstrip(" ")
        if not token:
            raise AuthFailure("malformed", "empty token")
        if any(char in token for char in " \t,"):
            raise AuthFailure("ambiguous", "more than one token")
        if not _COMPACT_JWS.fullmatch(token):
            raise AuthFailure("malformed", "malformed token")
        return token

    async def _current_keys(self) -> _VerifyingKeys:
        if self._static_keys is not None:
            return self._static_keys
        assert self._key_provider is not None
        try:
            provided = self._key_provider()
            if inspect.isawaitable(provided):
                provided = await provided
            return _verifying_keys(provided, self._algorithms)
        except Exception:
            # A broken key store must not turn into a 500 or into an open door.
            logger.exception("JWT key provider failed; refusing the request")
            raise AuthFailure("no_keys", "no key to verify the token") from None

    def _verify(self, token: str, keys: _VerifyingKeys) -> tuple[dict[str, Any], str]:
        # _token_from checked the compact form: exactly three base64url segments.
        signing_input, _, signature_segment = token.rpartition(".")
        header_segment, _, payload_segment = signing_input.partition(".")
        algorithm, critical = _jose_header(header_segment)
        if algorithm not in self._algorithms:
            raise AuthFailure("wrong_algorithm", "algorithm not allowed")
        if critical:
            # RFC 7515: a token whose critical extensions we do not understand must be refused.
            raise AuthFailure("malformed", "unsupported critical header")
        signature = _segment_bytes(signature_segment)

        # jose's Key.verify checks the HMAC in constant time; calling it for each key, rather
        # than jws.verify, spares decoding the whole token again for every key tried.
        message = signing_input.encode("ascii")
        for key_name, keys_by_algorithm in keys:
            if keys_by_algorithm[algorithm].verify(message, signature):
                return self._checked_claims(_segment_bytes(payload_segment)), key_name
        raise AuthFailure("bad_signature", "bad signature")

    def _checked_claims(self, payload: bytes) -> dict[str, Any]:
        """Claims of a token whose signature is good; the time checks are done here rather than
        by jose, whose claim checks raise TypeError on e.g. ``"exp": null``."""
        try:
            claims = json.loads(payload.decode("utf-8"))
        except (ValueError, RecursionError):
            raise AuthFailure("claims", "claims are not JSON") from None
        if not isinstance(claims, dict):
            raise AuthFailure("claims", "claims are not a JSON object")
        now = self._clock()
        expires = claims.get("exp")
        if not _is_time(expires):
            raise AuthFailure("claims", "exp missing or not a number")
        if now > expires + self._leeway:
            raise AuthFailure("expired", "token expired")
        if "nbf" in claims:
            not_before = claims["nbf"]
            if not _is_time(not_before):
                raise AuthFailure("claims", "nbf not a number")
            if now < not_before - self._leeway:
                raise AuthFailure("not_yet_valid", "token not valid yet")
        missing = [name for name in self._required_claims if name not in claims]
        if missing:
            raise AuthFailure("claims", f"missing claim {missing[0]}")
        return claims

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, failure: AuthFailure) -> None:
        if scope["type"] == "websocket":
            # 1008 = policy violation; closing before accept also makes the handshake fail.
            await send({"type": "websocket.close", "code": 1008, "reason": failure.reason})
            return
        response = self._on_error(HTTPConnection(scope, receive), failure)
        if inspect.isawaitable(response):
            response = await response
        await response(scope, receive, send)


def _route_path(scope: Scope) -> str:
    """The path as Starlette's router sees it (same rule as its get_route_path): without the
    root_path that uvicorn or a Mount put in front, so public paths match what gets routed."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if not root_path or not path.startswith(root_path):
        return path
    if path == root_path:
        return ""
    if path[len(root_path)] == "/":
        return path[len(root_path) :]
    return path


@functools.lru_cache(maxsize=256)
def _jose_header(segment: str) -> tuple[str, bool]:
    """``(alg, has crit)`` of a JOSE header segment. Cached: a signer puts the same header on
    every token, so it is decoded once rather than on every request."""
    if len(segment) > MAX_JOSE_HEADER_CHARS:
        raise AuthFailure("malformed", "malformed token")
    try:
        header = json.loads(_segment_bytes(segment).decode("utf-8"))
    except (ValueError, RecursionError):
        raise AuthFailure("malformed", "malformed token") from None
    if not isinstance(header, dict):
        raise AuthFailure("malformed", "malformed token")
    algorithm = header.get("alg")
    if not isinstance(algorithm, str):
        raise AuthFailure("wrong_algorithm", "algorithm not allowed")
    return algorithm, "crit" in header


def _segment_bytes(segment: str) -> bytes:
    try:
        return base64url_decode(segment.encode("ascii"))
    except (binascii.Error, ValueError):
        raise AuthFailure("malformed", "malformed token") from None


def _is_time(value: object) -> TypeGuard[int | float]:
    """A JSON number fit for exp/nbf: not a bool, not NaN or infinity (json.loads accepts both)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


def _check_algorithms(algorithms: Iterable[str]) -> frozenset[str]:
    chosen = _collection(algorithms, "algorithms", "such as ('HS256',)")
    if not chosen:
        raise ValueError("algorithms must name at least one algorithm")
    unsupported = [algorithm for algorithm in chosen if algorithm not in SYMMETRIC_ALGORITHMS]
    if unsupported:
        raise ValueError(
            f"algorithms {unsupported!r} are not allowed: only shared-secret "
            f"{list(SYMMETRIC_ALGORITHMS)} ('none' and public-key algorithms are refused)"
        )
    return frozenset(chosen)


def _verifying_keys(keys: object, algorithms: frozenset[str]) -> _VerifyingKeys:
    """Check a key ring and build its HMAC keys, once per algorithm."""
    if isinstance(keys, (str, bytes)):
        keys = {DEFAULT_KEY_NAME: keys}
    if not isinstance(keys, Mapping) or not keys:
        raise ValueError("keys must be a non-empty secret, a non-empty mapping name -> secret, or a callable")
    ring: _VerifyingKeys = []
    for name, secret in keys.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"key names must be non-empty strings, got {name!r}")
        if not isinstance(secret, (str, bytes)) or not secret:
            raise ValueError(f"key {name!r} must be a non-empty str or bytes secret: a JWT secret is never empty")
        try:
            ring.append((name, {algorithm: jwk.construct(secret, algorithm) for algorithm in algorithms}))
        except JOSEError:
            raise ValueError(f"key {name!r} looks like a public key or certificate, not a shared secret") from None
    return ring


def _collection(value: object, argument: str, what: str) -> list[Any]:
    """The entries of a collection argument; a lone string is refused rather than read as its characters."""
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError(f"{argument} must be a collection {what}, got {value!r}")
    return list(value)


def _check_http_token(value: object, argument: str, meaning: str) -> str:
    if not isinstance(value, str) or not _HTTP_TOKEN.fullmatch(value):
        raise ValueError(f"{argument} must be {meaning}, got {value!r}")
    return value


def _check_whole_number(value: object, argument: str, low: int, high: int | None) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and low <= value and (high is None or value <= high):
        return value
    limits = f"from {low} to {high}" if high is not None else f"of at least {low}"
    raise ValueError(f"{argument} must be a whole number {limits}, got {value!r}")


def _check_claim_names(required_claims: Iterable[str]) -> tuple[str, ...]:
    names = _collection(required_claims, "required_claims", "of claim names")
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValueError(f"required_claims entries must be non-empty strings, got {name!r}")
    return tuple(dict.fromkeys(["exp", *names]))


def _check_paths(paths: Iterable[str], argument: str) -> list[str]:
    checked = _collection(paths, argument, "of paths")
    for path in checked:
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"{argument} entries must start with '/', got {path!r}")
    return checked


def _check_prefixes(prefixes: Iterable[str]) -> list[str]:
    checked = _check_paths(prefixes, "public_prefixes")
    for prefix in checked:
        if not prefix.endswith("/"):
            # Without the slash "/static" would also open "/static-secrets".
            raise ValueError(f"public_prefixes entries must end with '/', got {prefix!r}")
    return checked
