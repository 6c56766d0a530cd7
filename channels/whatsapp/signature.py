"""Meta's webhook signature: ``X-Hub-Signature-256: sha256=<hex>``, the HMAC-SHA256
of the raw body with the app secret (``WHATSAPP_APP_SECRET``)."""
from __future__ import annotations

import hashlib
import hmac
from typing import Optional

PREFIX = "sha256="


def valid_signature(secret: str, body: bytes, header: Optional[str]) -> bool:
    """The header matches ``body``, compared in constant time; never valid without a secret."""
    if not secret or not header or not header.startswith(PREFIX):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len(PREFIX):].strip().lower())


def sign(secret: str, body: bytes) -> str:
    """The header value Meta would send for ``body`` (tests and tools)."""
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
