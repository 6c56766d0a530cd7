"""Validation of what a chat client sends (REST API and WebSocket frames).

Every error names the field, so an integrator knows what to fix without
reading our logs.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Dict, Optional

MAX_BODY_BYTES = 64 * 1024
MAX_MESSAGE_CHARS = 4096
SESSION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
SESSION_ID_RULE = "1 to 128 characters among A-Z a-z 0-9 _ . : -"


class InvalidInput(ValueError):
    """A field is missing, of the wrong type or out of range (HTTP 422)."""

    def __init__(self, field: str, detail: str):
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = f"{field}: {detail}"


class MalformedJson(ValueError):
    """The body is not JSON at all (HTTP 400)."""


def parse_json(raw: bytes | str) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError) as error:
        raise MalformedJson(f"body is not valid JSON: {error}") from None


def session_id(value: Any, field: str = "session_id") -> str:
    if value is None:
        raise InvalidInput(field, "is required")
    if not isinstance(value, str):
        raise InvalidInput(field, f"must be a string, got {type(value).__name__}")
    if not SESSION_ID.match(value):
        raise InvalidInput(field, f"must be {SESSION_ID_RULE}")
    return value


def message_text(value: Any, field: str = "message") -> str:
    if value is None:
        raise InvalidInput(field, "is required")
    if not isinstance(value, str):
        raise InvalidInput(field, f"must be a string, got {type(value).__name__}")
    if len(value) > MAX_MESSAGE_CHARS:
        raise InvalidInput(field, f"must be at most {MAX_MESSAGE_CHARS} characters")
    if not value.strip():
        raise InvalidInput(field, "must not be empty")
    return value.strip()


def metadata(value: Any, field: str = "metadata") -> Optional[Dict[str, Any]]:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput(field, f"must be an object, got {type(value).__name__}")
    return value


def no_unknown_fields(data: Dict[str, Any], allowed: tuple, where: str = "") -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise InvalidInput(f"{where}{unknown[0]}", f"unknown field (allowed: {', '.join(allowed)})")


@dataclass(frozen=True)
class ChatRequest:
    session_id: str
    message: str
    metadata: Optional[Dict[str, Any]] = None


def chat_request(body: Any) -> ChatRequest:
    """``{"session_id", "message", "metadata"?}`` as decoded JSON."""
    if not isinstance(body, dict):
        raise InvalidInput("body", f"must be a JSON object, got {type(body).__name__}")
    no_unknown_fields(body, ("session_id", "message", "metadata"))
    return ChatRequest(
        session_id=session_id(body.get("session_id")),
        message=message_text(body.get("message")),
        metadata=metadata(body.get("metadata")),
    )
