"""The desk's errors: the project's typed errors (``bot.errors``) plus three of its own.

The library stays free of any web framework; ``channels/common/errors.py``
maps every error to its HTTP status (``AlreadyClaimed`` is a 409 because it
is a ``Conflict``, ``LoginLocked`` a 429 with ``Retry-After`` because it is
``RateLimited``). Redis failures are not wrapped: they surface as
``redis.exceptions.RedisError``, which the same mapping answers with 503 (an
unknown state is never reported as done).
"""
from __future__ import annotations

from typing import Optional

from bot.errors import (AppError, Conflict, Forbidden, InvalidInput, NotFound, RateLimited,
                        Unauthorized)

# The desk's code used to catch its own base class; every desk error is an AppError.
DeskError = AppError

__all__ = ["AlreadyClaimed", "AtCapacity", "Conflict", "DeskError", "Forbidden", "InvalidInput",
           "LoginLocked", "NotFound", "Unauthorized"]


class AlreadyClaimed(Conflict):
    """Another agent claimed the conversation first (or it left the queue)."""

    def __init__(self, conversation_id: str, status: str, agent: Optional[str]):
        super().__init__(f"conversation {conversation_id} is no longer in the queue ({status})")
        self.conversation_id = conversation_id
        self.current_status = status
        self.agent = agent


class AtCapacity(Conflict):
    """The agent already holds as many conversations as their capacity."""


class LoginLocked(RateLimited):
    """Too many failed logins from one address; ``retry_after`` in seconds."""

    def __init__(self, retry_after: int):
        super().__init__(f"too many failed logins; try again in {retry_after} s", retry_after)
