"""A pure-ASGI Starlette middleware that admits a request only with a valid shared-secret JWT.

It imports nothing from the rest of hello_jwt, so it can be lifted into any Starlette app:

    app = Starlette(routes=..., middleware=[
        Middleware(JWTAuthMiddleware, keys={"prod": secret}, public_paths=["/manifest.json"]),
    ])

Endpoints read the verified claims from ``request.user.claims`` and the name of the key that
verified the token from ``request.auth.key_name``; they never see the token itself.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from jose import jwk, jws, jwt
from jose.exceptions import ExpiredSignatureError, JOSEError, JWTClaimsError
from starlette.authentication import AuthCredentials, BaseUser
from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "AuthFailure",
    "JWTAuthMiddleware",
    "JWTCredentials",
    "JWTUser",
    "KeyProvider",
    "Keys",
]

logger = logging.getLogger(__name__)

Secret = str | bytes
KeyRing = Mapping[str, Secret]
KeyProvider = Callable[[], KeyRing | Awaitable[KeyRing]]
Keys = Secret | KeyRing | KeyProvider
ErrorHandler = Callable[[HTTPConnection, "AuthFailure"], Response | Awaitable[Response]]

DEFAULT_KEY_NAME = "default"
SYMMETRIC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
MAX_LEEWAY_SECONDS = 60
# A base64url JWS in compact form: header.payload.signature, nothing else.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# Dot segments or empty segments make a path mean something else once normalised downstream.
_AMBIGUOUS_SEGMENT = re.compile(r"(^|/)\.{1,2}(/|$)|//")


class AuthFailure(Exception):
    """Why a request was refused: ``category`` is stable (for logs and metrics), ``reason`` is
    the short text sent to the caller."""

    def __init__(self, category: str, reason: str) -> None:
        super().__init__(reason)
        self.category = category
        self.reason = reason


class JWTUser(BaseUser):
    """The caller, as named by a verified token."""

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
        returning such a mapping on every request, for keys kept in a file or a store.
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
    ) -> None:
        self.app = app
        self._algorithms = _check_algorithms(algorithms)
        self._static_keys: dict[str, Secret] | None = None
        self._key_provider: KeyProvider | None = None
        if callable(keys):
            self._key_provider = keys
        else:
            self._static_keys = _check_key_ring(keys)
        if not header or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", header):
            raise ValueError(f"header must be a valid HTTP header name, got {header!r}")
        self._header = header.lower().encode("latin-1")
        if not scheme or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", scheme):
            raise ValueError(f"scheme must be a single token such as 'Bearer', got {scheme!r}")
        self._scheme = scheme.lower()
        self._public_paths = frozenset(_check_paths(public_paths, "public_paths"))
        self._public_prefixes = tuple(_check_prefixes(public_prefixes))
        if isinstance(leeway, bool) or not isinstance(leeway, int) or not 0 <= leeway <= MAX_LEEWAY_SECONDS:
            raise ValueError(f"leeway must be whole seconds from 0 to {MAX_LEEWAY_SECONDS}, got {leeway!r}")
        self._leeway = leeway
        if isinstance(required_claims, str):
            raise ValueError("required_claims must be a collection of claim names, not one string")
        self._required_claims = tuple(dict.fromkeys(["exp", *required_claims]))
        if not identity_claim:
            raise ValueError("identity_claim must name a claim")
        self._identity_claim = identity_claim
        if not callable(on_error):
            raise ValueError("on_error must be a callable (connection, failure) -> Response")
        self._on_error = on_error
        if max_header_bytes < 64:
            raise ValueError(f"max_header_bytes must be at least 64, got {max_header_bytes}")
        self._max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self._is_public(scope):
            await self.app(scope, receive, send)
            return

        try:
            claims, key_name = self._verify(self._token_from(scope), await self._current_keys())
        except AuthFailure as failure:
            logger.info("auth refused (%s): %s %s", failure.category, scope["type"], scope["path"])
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
        scheme, _, token = raw.decode("latin-1").strip().partition(" ")
        if scheme.lower() != self._scheme:
            raise AuthFailure("malformed", "wrong authorization scheme")
        token = token.strip()
        if not token:
            raise AuthFailure("malformed", "empty token")
        if any(char in token for char in " \t,"):
            raise AuthFailure("ambiguous", "more than one token")
        if not _COMPACT_JWS.fullmatch(token):
            raise AuthFailure("malformed", "malformed token")
        return token

    async def _current_keys(self) -> dict[str, Secret]:
        if self._static_keys is not None:
            return self._static_keys
        assert self._key_provider is not None
        try:
            provided = self._key_provider()
            if inspect.isawaitable(provided):
                provided = await provided
            return _check_key_ring(provided)
        except Exception:
            # A broken key store must not turn into a 500 or into an open door.
            logger.exception("auth key provider failed; refusing the request")
            raise AuthFailure("no_keys", "no key to verify the token") from None

    def _verify(self, token: str, keys: Mapping[str, Secret]) -> tuple[dict[str, Any], str]:
        try:
            header = jws.get_unverified_header(token)
        except JOSEError:
            raise AuthFailure("malformed", "malformed token") from None
        algorithm = header.get("alg")
        if algorithm not in self._algorithms:
            raise AuthFailure("algorithm", "algorithm not allowed")

        # The header parsed, so the only way jws.verify can fail now is a signature mismatch.
        for key_name, secret in keys.items():
            try:
                jws.verify(token, secret, [algorithm])
            except JOSEError:
                continue
            return self._checked_claims(token, secret, algorithm), key_name
        raise AuthFailure("signature", "bad signature")

    def _checked_claims(self, token: str, secret: Secret, algorithm: str) -> dict[str, Any]:
        options = {"leeway": self._leeway, "require_exp": True, "verify_aud": False}
        try:
            claims: dict[str, Any] = jwt.decode(token, secret, algorithms=[algorithm], options=options)
        except ExpiredSignatureError:
            raise AuthFailure("expired", "token expired") from None
        except JWTClaimsError:
            raise AuthFailure("claims", "invalid claims") from None
        except (JOSEError, json.JSONDecodeError, UnicodeDecodeError):
            raise AuthFailure("claims", "invalid or missing claims") from None
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
    """The path as the router sees it: without the root_path that uvicorn or a Mount put in front."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        rest = path[len(root_path) :]
        if rest == "" or rest.startswith("/"):
            return rest or "/"
    return path


def _check_algorithms(algorithms: Iterable[str]) -> frozenset[str]:
    if isinstance(algorithms, str):
        raise ValueError("algorithms must be a collection such as ('HS256',), not one string")
    chosen = frozenset(algorithms)
    if not chosen:
        raise ValueError("algorithms must name at least one algorithm")
    unsupported = chosen - SYMMETRIC_ALGORITHMS
    if unsupported:
        raise ValueError(
            f"algorithms {sorted(unsupported)} are not allowed: only shared-secret "
            f"{sorted(SYMMETRIC_ALGORITHMS)} ('none' and public-key algorithms are refused)"
        )
    return chosen


def _check_key_ring(keys: object) -> dict[str, Secret]:
    if isinstance(keys, (str, bytes)):
        keys = {DEFAULT_KEY_NAME: keys}
    if not isinstance(keys, Mapping) or not keys:
        raise ValueError("keys must be a non-empty secret, a non-empty mapping name -> secret, or a callable")
    ring: dict[str, Secret] = {}
    for name, secret in keys.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"key names must be non-empty strings, got {name!r}")
        if not isinstance(secret, (str, bytes)) or not secret:
            raise ValueError(f"key {name!r} is empty: a JWT secret must never be empty")
        try:
            jwk.construct(secret, "HS256")
        except JOSEError:
            raise ValueError(f"key {name!r} looks like a public key or certificate, not a shared secret") from None
        ring[name] = secret
    return ring


def _check_paths(paths: Iterable[str], argument: str) -> list[str]:
    if isinstance(paths, str):
        raise ValueError(f"{argument} must be a collection of paths, not one string")
    checked = list(paths)
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
