"""Signed, expiring links to kept files: ``/media/<id>?expires=<unix>&signature=<hex>``.

Like a cloud store's pre-signed URL: whoever holds the link may fetch the
file until it expires, without a login (a widget customer has none, and an
``<img>`` in the console cannot send a bearer token). HMAC-SHA256 over the id
and the expiry with ``MEDIA_URL_SECRET``; compared in constant time.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from typing import Optional

from bot.errors import Forbidden

PATH = "/media"


class MediaLinks:
    def __init__(self, secret: str, public_url: str = "") -> None:
        self._key = secret.encode()
        self.public_url = public_url

    def _signature(self, media_id: str, expires: int) -> str:
        return hmac.new(self._key, f"{media_id}:{expires}".encode(), hashlib.sha256).hexdigest()

    def path(self, media_id: str, ttl_seconds: int, now: Optional[float] = None) -> str:
        """The link's path and query, valid ``ttl_seconds`` from ``now``."""
        expires = int((now or time.time()) + ttl_seconds)
        return f"{PATH}/{media_id}?expires={expires}&signature={self._signature(media_id, expires)}"

    def url(self, media_id: str, ttl_seconds: int, now: Optional[float] = None) -> str:
        """The link as a customer's client opens it (absolute with ``MEDIA_PUBLIC_URL``)."""
        return self.public_url + self.path(media_id, ttl_seconds, now)

    def check(self, media_id: str, expires: str, signature: str, now: Optional[float] = None) -> None:
        """Raise :class:`Forbidden` unless the link is genuine and not expired."""
        if not (expires.isascii() and expires.isdigit()) or not (signature and signature.isascii()):
            raise Forbidden("media link: expires and signature are required", "signature")
        if not hmac.compare_digest(self._signature(media_id, int(expires)), signature):
            raise Forbidden("media link: the signature does not match", "signature")
        if int(expires) < (now or time.time()):
            raise Forbidden("media link: expired; open the conversation again for a new one", "expires")
