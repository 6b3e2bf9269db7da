"""Every way a request's token can be wrong: (case id, headers). Each must get a 401."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import rsa  # python-jose's own RSA backend
from conftest import SECRET, sign

HEADER = "Mattermost-App-Authorization"
NOW = int(time.time())
VALID = sign({"exp": NOW + 900, "acting_user_id": "a" * 26})


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _unsigned(alg: str) -> str:
    return f"{_b64({'alg': alg, 'typ': 'JWT'})}.{_b64({'exp': NOW + 900})}."


def _tampered() -> str:
    header, _, signature = VALID.split(".")
    return f"{header}.{_b64({'exp': NOW + 900, 'acting_user_id': 'b' * 26})}.{signature}"


_RSA_PUBLIC, _RSA_PRIVATE = rsa.newkeys(1024)
_RSA_PRIVATE_PEM = _RSA_PRIVATE.save_pkcs1().decode()
_RSA_PUBLIC_PEM = _RSA_PUBLIC.save_pkcs1().decode()


def _key_confusion() -> str:
    """HS256 keyed with a public key: the classic attack on servers that take alg from the token."""
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64({'exp': NOW + 900})}"
    mac = hmac.new(_RSA_PUBLIC_PEM.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


REJECTED: list[tuple[str, list[tuple[str, str]]]] = [
    ("missing header", []),
    ("wrong header name", [("Authorization", f"Bearer {VALID}")]),
    ("no Bearer scheme", [(HEADER, VALID)]),
    ("other scheme", [(HEADER, f"Basic {VALID}")]),
    ("empty token", [(HEADER, "Bearer ")]),
    ("only the scheme", [(HEADER, "Bearer")]),
    ("wrong secret", [(HEADER, f"Bearer {sign(secret='not-' + SECRET)}")]),
    ("tampered payload", [(HEADER, f"Bearer {_tampered()}")]),
    ("expired", [(HEADER, f"Bearer {sign({'exp': NOW - 60})}")]),
    ("no exp", [(HEADER, f"Bearer {sign({'acting_user_id': 'a' * 26})}")]),
    ("exp not a number", [(HEADER, f"Bearer {sign({'exp': 'tomorrow'})}")]),
    ("alg none", [(HEADER, f"Bearer {_unsigned('none')}")]),
    ("alg NONE", [(HEADER, f"Bearer {_unsigned('NONE')}")]),
    ("alg HS512", [(HEADER, f"Bearer {sign(algorithm='HS512')}")]),
    ("alg RS256", [(HEADER, f"Bearer {sign(secret=_RSA_PRIVATE_PEM, algorithm='RS256')}")]),
    ("key confusion", [(HEADER, f"Bearer {_key_confusion()}")]),
    ("garbage", [(HEADER, "Bearer not.a.jwt")]),
    ("binary garbage", [(HEADER, "Bearer \x00\xff\x01")]),
    ("two tokens in one header", [(HEADER, f"Bearer {VALID} {VALID}")]),
    ("two tokens with a comma", [(HEADER, f"Bearer {VALID},{VALID}")]),
    ("two header lines", [(HEADER, f"Bearer {VALID}"), (HEADER, f"Bearer {VALID}")]),
    ("over-long header", [(HEADER, f"Bearer {VALID}{'A' * 9000}")]),
]
