"""Session tokens shared by the web channels (Meta's webhook signature: channels/whatsapp/signature.py)."""
from __future__ import annotations

from typing import Optional

import jwt


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
