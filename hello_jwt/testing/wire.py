"""What the Apps plugin puts on the wire: JSON as Go's ``encoding/json`` writes it, and the JWT as
``dgrijalva/jwt-go`` v3 signs it (protocol §2.3 and §3)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

TOKEN_LIFETIME = 15 * 60  # seconds (protocol §3)
_JWT_HEADER = b'{"alg":"HS256","typ":"JWT"}'  # a Go map, so its keys are sorted
# What encoding/json escapes beyond what json.dumps does (HTML-safe, and JavaScript line ends).
_GO_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def go_json(value: Any) -> bytes:
    """``json.Marshal``: compact, UTF-8, with ``<``, ``>``, ``&``, U+2028 and U+2029 escaped.

    Key order is the caller's: build struct-shaped dicts in Go struct order, and pass map-typed
    values (``values``, ``state``) through :func:`go_map` first.
    """
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.translate(_GO_ESCAPES).encode()


def go_map(value: Any) -> Any:
    """A value after a round trip through Go's ``interface{}``: map keys sorted, whole floats as ints."""
    if isinstance(value, dict):
        return {key: go_map(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [go_map(item) for item in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


def sign_token(secret: str, *, now: float, acting_user_id: str = "") -> str:
    """A fresh plugin JWT: HS256, claims ``{"exp": now + 15 min}`` plus ``acting_user_id`` when set.

    An empty secret signs with an empty HMAC key, as jwt-go v3 does.
    """
    claims: dict[str, Any] = {"exp": int(now) + TOKEN_LIFETIME}  # StandardClaims come first
    if acting_user_id:
        claims["acting_user_id"] = acting_user_id
    signing_input = _b64(_JWT_HEADER) + b"." + _b64(go_json(claims))
    signature = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + _b64(signature)).decode()


def token_claims(token: str) -> dict[str, Any]:
    """The claims of a token, unverified (for showing what was sent)."""
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")
