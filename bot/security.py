"""Security helpers shared by the channels: webhook signatures and session tokens."""
from __future__ import annotations

import hashlib
import hmac
from typing import Optional

import jwt


def valid_signature(secret: str, body: bytes, header: Optional[str]) -> bool:
    """Meta's ``X-Hub-Signature-256: sha256=<hex>`` over the raw body, constant time."""
    if not secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len("sha256="):].strip().lower())


def sign(secret: str, body: bytes) -> str:
    """The header value Meta would send for ``body`` (tests and tools)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class InvalidToken(ValueError):
    """The token is missing, expired, badly signed or not for this session."""


def session_from_token(token: Optional[str], secret: str) -> str:
    """The session id a widget token is bound to (claim ``session_id``, else ``sub``).

    HS256 only; ``exp`` is enforced when present.
    """
    if not token:
        raise InvalidToken("token is missing")
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"])
    except jwt.PyJWTError as error:
        raise InvalidToken(str(error)) from None
    session_id = claims.get("session_id") or claims.get("sub")
    if not isinstance(session_id, str) or not session_id:
        raise InvalidToken("token has no session_id claim")
    return session_id
