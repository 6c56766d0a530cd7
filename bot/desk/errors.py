"""Typed errors of the desk, each carrying the HTTP status the desk API answers.

The library stays free of any web framework; ``channels/desk.py`` maps an
error to a response with ``error.status`` and ``error.as_dict()``. Redis
failures are not wrapped: they surface as ``redis.exceptions.RedisError``,
which callers answer with 503 (an unknown state is never reported as done).
"""
from __future__ import annotations

from typing import Any, Dict, Optional


class DeskError(Exception):
    """Base class; ``status`` is the HTTP status a caller should answer."""

    status = 500

    def __init__(self, message: str, field: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> Dict[str, Any]:
        body: Dict[str, Any] = {"detail": self.message}
        if self.field:
            body["field"] = self.field
        return body


class InvalidInput(DeskError):
    """A value is missing or unusable; ``field`` names it."""

    status = 422

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}", field)
        self.reason = message


class NotFound(DeskError):
    status = 404


class Forbidden(DeskError):
    status = 403


class Conflict(DeskError):
    """The state changed under the caller (already claimed, closed, rated...)."""

    status = 409


class AlreadyClaimed(Conflict):
    """Another agent claimed the conversation first (or it left the queue)."""

    def __init__(self, conversation_id: str, status: str, agent: Optional[str]):
        super().__init__(f"conversation {conversation_id} is no longer in the queue ({status})")
        self.conversation_id = conversation_id
        self.current_status = status
        self.agent = agent


class Unauthorized(DeskError):
    """Wrong credentials, or a token that is expired, forged, revoked or for an unknown user."""

    status = 401


class LoginLocked(DeskError):
    """Too many failed logins from one address; ``retry_after`` in seconds."""

    status = 429

    def __init__(self, retry_after: int):
        super().__init__(f"too many failed logins; try again in {retry_after} s")
        self.retry_after = retry_after
