"""What a file is and whether it may pass, from its bytes (pure functions).

A client's declared ``Content-Type`` and file name are only hints: the type
is read from the file's first bytes (``filetype``), so a script renamed
``.png`` is refused (415) and an image is never served as HTML. Limits are
Meta's own where WhatsApp carries the file (images 5 MB, the rest 16 MB),
so what an agent sends is what the customer gets.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Dict, Optional

import filetype

from bot.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

# MIME type -> (kind, extension). Kinds are WhatsApp's message types.
IMAGE_TYPES = {"image/jpeg": ("image", "jpg"), "image/png": ("image", "png")}
DOCUMENT_TYPES = {
    "application/pdf": ("document", "pdf"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ("document", "docx"),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ("document", "xlsx"),
}
AUDIO_TYPES = {
    "audio/ogg": ("audio", "ogg"), "audio/mpeg": ("audio", "mp3"), "audio/mp4": ("audio", "m4a"),
    "audio/aac": ("audio", "aac"), "audio/amr": ("audio", "amr"),
}
VIDEO_TYPES = {"video/mp4": ("video", "mp4"), "video/3gpp": ("video", "3gp")}
STICKER_TYPES = {"image/webp": ("sticker", "webp")}

# What an agent may send (what every channel can show), and what we keep from customers.
SENDABLE: Dict[str, tuple] = {**IMAGE_TYPES, **DOCUMENT_TYPES}
RECEIVABLE: Dict[str, tuple] = {**SENDABLE, **AUDIO_TYPES, **VIDEO_TYPES, **STICKER_TYPES}

# filetype's names that differ from what WhatsApp and browsers use.
_ALIASES = {"audio/x-m4a": "audio/mp4", "video/quicktime": "video/mp4", "audio/x-aac": "audio/aac",
            "audio/m4a": "audio/mp4", "audio/opus": "audio/ogg"}
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ ()-]+")
MAX_NAME = 100


@dataclass(frozen=True)
class MediaFile:
    """Checked file contents."""

    data: bytes
    mime: str
    kind: str  # image | document | audio | video | sticker
    filename: str
    sha256: str

    @property
    def size(self) -> int:
        return len(self.data)


def sniff(data: bytes) -> Optional[str]:
    """The MIME type the bytes say, or ``None``."""
    found = filetype.guess_mime(data[:8192])
    return _ALIASES.get(found, found) if found else None


def inspect_file(data: bytes, filename: str = "", field: str = "file",
                 allowed: Optional[Dict[str, tuple]] = None,
                 max_bytes: Optional[Dict[str, int]] = None) -> MediaFile:
    """``data`` as a :class:`MediaFile`, or the error naming ``field``: empty (422),
    not an allowed type by its bytes (415), over its kind's limit (413)."""
    allowed = SENDABLE if allowed is None else allowed
    if not data:
        raise InvalidInput(field, "the file is empty")
    mime = sniff(data)
    if mime not in allowed:
        names = sorted({extension for _, extension in allowed.values()})
        raise UnsupportedMediaType(f"{field}: {'this file type' if mime is None else mime} is not accepted "
                               f"here; send {', '.join(names)}", field)
    kind, extension = allowed[mime]
    limit = (max_bytes or {}).get(kind)
    if limit is not None and len(data) > limit:
        raise PayloadTooLarge(f"{field}: {len(data)} bytes; a {kind} may have at most {limit} bytes", field)
    return MediaFile(data, mime, kind, safe_filename(filename, extension), hashlib.sha256(data).hexdigest())


def safe_filename(filename: str, extension: str) -> str:
    """A name safe in a header and a chat: no path, no accents or odd characters,
    the extension of the real type (``boleto.exe`` that is a PDF -> ``boleto.pdf``)."""
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = _UNSAFE_NAME.sub("_", stem).strip(" ._")[:MAX_NAME - len(extension) - 1] or "arquivo"
    return f"{stem}.{extension}"
