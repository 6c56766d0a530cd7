"""A file a chat client attaches to a message (REST, WebSocket, socket.io).

``attachment`` is ``{"url": "https://..."}`` (fetched by the server,
``bot.media.remote``) or ``{"data": "<base64>"}``, with an optional
``filename``. Exactly one of ``url`` and ``data``. The bytes are then checked
like any customer file (``bot.media.files``: type by content, the kind's size
limit) and go to ``bot.media.understanding`` as a WhatsApp file does.

Errors name the field: ``attachment.url`` / ``attachment.data`` (422; 413
over the limit; 415 for a type we do not take).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Any, Optional

from bot.errors import InvalidInput, PayloadTooLarge
from bot.media.files import RECEIVABLE, MediaFile, inspect_file
from bot.media.remote import checked_url, fetch_url
from bot.media.settings import media_settings

FIELDS = ("url", "data", "filename")
MAX_FILENAME_CHARS = 255


def base64_chars(size: int) -> int:
    """How many base64 characters ``size`` bytes take (padded)."""
    return (size + 2) // 3 * 4


@dataclass(frozen=True)
class Attachment:
    url: Optional[str] = None
    data: Optional[bytes] = None  # decoded
    filename: str = ""
    field: str = "attachment"
    digest: str = ""  # SHA-256 of data, taken while parsing (off the event loop for a large body)

    def identity(self) -> str:
        """What tells two attachments apart (the idempotency fingerprint)."""
        return f"url:{self.url}" if self.url is not None else f"data:{self.digest}"


def parse_attachment(value: Any, field: str = "attachment", max_data_chars: Optional[int] = None) -> Optional[Attachment]:
    """The client's ``attachment``, checked without fetching; ``None`` when absent.

    ``max_data_chars`` bounds the base64 text (a WebSocket frame is smaller than
    the largest file); the decoded size is checked again by kind later.
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput(field, f"must be an object with url or data, got {type(value).__name__}")
    unknown = sorted(set(value) - set(FIELDS))
    if unknown:
        raise InvalidInput(f"{field}.{unknown[0]}", f"unknown field (allowed: {', '.join(FIELDS)})")
    url, data = value.get("url"), value.get("data")
    if (url is None) == (data is None):
        raise InvalidInput(field, "give exactly one of url and data")
    filename = value.get("filename", "")
    if not isinstance(filename, str) or len(filename) > MAX_FILENAME_CHARS:
        raise InvalidInput(f"{field}.filename", f"must be a string of at most {MAX_FILENAME_CHARS} characters")
    settings = media_settings()
    if url is not None:
        if not isinstance(url, str):
            raise InvalidInput(f"{field}.url", f"must be a string, got {type(url).__name__}")
        checked_url(url, f"{field}.url", settings.url_test_hosts)
        return Attachment(url=url, filename=filename, field=f"{field}.url")
    if not isinstance(data, str):
        raise InvalidInput(f"{field}.data", f"must be a base64 string, got {type(data).__name__}")
    limit = max_data_chars or base64_chars(settings.max_file_bytes)
    if len(data) > limit:
        raise PayloadTooLarge(f"{field}.data: {len(data)} base64 characters; at most {limit} here "
                              f"(send a url for larger files)", f"{field}.data")
    if data.startswith("data:") and ";base64," in data[:100]:  # a browser's data: URL
        data = data.split(",", 1)[1]
    try:
        decoded = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{field}.data", "is not valid base64") from None
    if not decoded:
        raise InvalidInput(f"{field}.data", "the file is empty")
    return Attachment(data=decoded, filename=filename, field=f"{field}.data",
                      digest=hashlib.sha256(decoded).hexdigest())


async def fetch_attachment(attachment: Attachment) -> MediaFile:
    """The attachment's bytes (fetched when a URL), checked like any customer file."""
    settings = media_settings()
    limits = settings.limits()
    data = attachment.data
    if attachment.url is not None:
        data, _ = await fetch_url(attachment.url, attachment.field, max(limits.values()),
                                  settings.url_timeout_seconds, settings.url_test_hosts)
    filename = attachment.filename or (attachment.url or "").split("?", 1)[0].rsplit("/", 1)[-1]
    return inspect_file(data or b"", filename, attachment.field, RECEIVABLE, limits)
