"""Validation of what a chat client sends (every connector's JSON, texts and metadata).

Every error names the field, so an integrator knows what to fix without
reading our logs. :func:`parse_json` is the one way a connector decodes a
client's JSON: bounded in size and nesting (the C decoder raises
RecursionError near 1,000 levels, and Rasa deep-copies metadata), with lone
UTF-16 surrogates (``"\\ud800"``, valid JSON but not encodable as UTF-8:
the CRF extractor and Redis would fail on them) replaced by U+FFFD.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Dict, Optional

from bot import errors
from bot.media.attachments import Attachment, base64_chars, parse_attachment
from bot.media.settings import media_settings

MAX_BODY_BYTES = 64 * 1024
MAX_MESSAGE_CHARS = 4096
MAX_JSON_DEPTH = 32  # levels of nested objects/arrays a client may send
_SURROGATE = re.compile("[\ud800-\udfff]")  # after decoding, any surrogate is a lone one
SESSION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
SESSION_ID_RULE = "1 to 128 characters among A-Z a-z 0-9 _ . : -"
# Metadata keys the server sets from a customer's file (bot.media.understanding): never the client's.
RESERVED_METADATA = ("media", "transcribed", "image")


class InvalidInput(errors.InvalidInput, ValueError):
    """A field is missing, of the wrong type or out of range (HTTP 422).

    :class:`bot.errors.InvalidInput` (the one mapping answers it), still a
    ``ValueError`` for the callers that catch those.
    """

    @property
    def detail(self) -> str:
        """``"<field>: <reason>"``, the text the client sees."""
        return self.message


class MalformedJson(errors.MalformedRequest, ValueError):
    """The body is not JSON at all (HTTP 400)."""

    def __init__(self, message: str, field: Optional[str] = "body"):
        super().__init__(message, field)


class TooLarge(errors.PayloadTooLarge, ValueError):
    """The body or frame is over the size limit (HTTP 413)."""

    def __init__(self, message: str, field: Optional[str] = "body"):
        super().__init__(message, field)


class TooDeep(MalformedJson):
    """Valid JSON nested deeper than ``MAX_JSON_DEPTH`` (HTTP 400)."""


def clean_text(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD, so it encodes as UTF-8."""
    return _SURROGATE.sub("\ufffd", text)


def clean_value(value: Any, field: str = "body", max_depth: int = MAX_JSON_DEPTH, _depth: int = 1) -> Any:
    """Decoded JSON with every string (keys too) cleaned; deeper than ``max_depth`` is refused."""
    if isinstance(value, str):
        return clean_text(value)
    if not isinstance(value, (dict, list)):
        return value
    if _depth > max_depth:
        raise TooDeep(f"{field}: nested deeper than {max_depth} levels", field)
    if isinstance(value, list):
        return [clean_value(item, field, max_depth, _depth + 1) for item in value]
    return {clean_text(str(key)): clean_value(item, field, max_depth, _depth + 1) for key, item in value.items()}


def parse_json(raw: bytes | str, field: str = "body", max_bytes: int = MAX_BODY_BYTES) -> Any:
    """A client's JSON, safely: at most ``max_bytes``, ``MAX_JSON_DEPTH`` levels, clean strings.

    Raises :class:`TooLarge` (413) or :class:`MalformedJson` (400), never
    RecursionError or UnicodeError.
    """
    size = len(raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw)
    if size > max_bytes:
        raise TooLarge(f"{field}: larger than {max_bytes} bytes", field)
    try:
        value = json.loads(raw)
    except RecursionError:
        raise TooDeep(f"{field}: nested deeper than {MAX_JSON_DEPTH} levels", field) from None
    except (UnicodeDecodeError, ValueError) as error:
        raise MalformedJson(f"{field} is not valid JSON: {error}", field) from None
    return clean_value(value, field)


def session_id(value: Any, field: str = "session_id") -> str:
    if value is None:
        raise InvalidInput(field, "is required")
    if not isinstance(value, str):
        raise InvalidInput(field, f"must be a string, got {type(value).__name__}")
    if not SESSION_ID.match(value):
        raise InvalidInput(field, f"must be {SESSION_ID_RULE}")
    return value


def message_text(value: Any, field: str = "message", optional: bool = False) -> str:
    """The customer's text; with ``optional`` (a file's caption) absent or "" is ""."""
    if optional and value in (None, ""):
        return ""
    if value is None:
        raise InvalidInput(field, "is required")
    if not isinstance(value, str):
        raise InvalidInput(field, f"must be a string, got {type(value).__name__}")
    if len(value) > MAX_MESSAGE_CHARS:
        raise InvalidInput(field, f"must be at most {MAX_MESSAGE_CHARS} characters")
    if not value.strip():
        raise InvalidInput(field, "must not be empty")
    return clean_text(value.strip())


def metadata(value: Any, field: str = "metadata") -> Optional[Dict[str, Any]]:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput(field, f"must be an object, got {type(value).__name__}")
    reserved = [key for key in RESERVED_METADATA if key in value]
    if reserved:
        raise InvalidInput(f"{field}.{reserved[0]}", "is set by the server from an attachment")
    try:
        return clean_value(value, field)
    except TooDeep as error:
        raise InvalidInput(field, f"nested deeper than {MAX_JSON_DEPTH} levels") from error


def no_unknown_fields(data: Dict[str, Any], allowed: tuple, where: str = "") -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise InvalidInput(f"{where}{unknown[0]}", f"unknown field (allowed: {', '.join(allowed)})")


@dataclass(frozen=True)
class ChatRequest:
    session_id: str
    message: str  # with an attachment: its caption, maybe ""
    metadata: Optional[Dict[str, Any]] = None
    attachment: Optional[Attachment] = None

    def fingerprint_parts(self) -> tuple:
        return fingerprint_parts(self.message, self.metadata, self.attachment)


def fingerprint_parts(message: str, metadata: Any, attachment: Optional[Attachment]) -> tuple:
    """What makes two chat messages with one idempotency key the same message."""
    return (message, metadata) + ((attachment.identity(),) if attachment else ())


def attachment_body_bytes() -> int:
    """The largest body of a request that may carry an attachment as base64."""
    return base64_chars(media_settings().max_file_bytes) + MAX_BODY_BYTES


def chat_request(body: Any, attachments: bool = False, body_bytes: int = 0) -> ChatRequest:
    """``{"session_id", "message", "metadata"?, "attachment"?}`` as decoded JSON.

    With ``attachments`` a request may carry a file (``message`` is then its
    optional caption); everything but ``attachment.data`` still fits in
    ``MAX_BODY_BYTES`` (``body_bytes``: the raw body's size).
    """
    if not isinstance(body, dict):
        raise InvalidInput("body", f"must be a JSON object, got {type(body).__name__}")
    no_unknown_fields(body, ("session_id", "message", "metadata") + (("attachment",) if attachments else ()))
    attachment = parse_attachment(body.get("attachment")) if attachments else None
    data = body["attachment"].get("data") if attachment and attachment.data is not None else ""
    if body_bytes - len(data) > MAX_BODY_BYTES:
        raise TooLarge(f"body: larger than {MAX_BODY_BYTES} bytes (besides attachment.data)")
    return ChatRequest(
        session_id=session_id(body.get("session_id")),
        message=message_text(body.get("message"), optional=attachment is not None),
        metadata=metadata(body.get("metadata")),
        attachment=attachment,
    )
