"""The project's typed errors: what went wrong, in words a caller can act on.

Raised by the library code (``bot/``) and by the connectors alike; none of
them knows about HTTP. ``channels/common/errors.py`` is the one place that
turns them into a status and a JSON body (``{"detail", "field"?}``), so a
route never builds an error response by hand.

``kind`` is a short label for logs and the ``/metrics`` error counters.
"""
from __future__ import annotations

from typing import Any, Dict, Optional


class AppError(Exception):
    """Base class: a message for the caller and, when one input is to blame, its field."""

    kind = "internal"

    def __init__(self, message: str, field: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> Dict[str, Any]:
        body: Dict[str, Any] = {"detail": self.message}
        if self.field:
            body["field"] = self.field
        return body


class InvalidInput(AppError):
    """A value is missing or unusable; ``field`` names it (``field: reason``)."""

    kind = "validation"

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}", field)
        self.reason = reason


class MalformedRequest(AppError):
    """The request as a whole cannot be read (not JSON, not an object)."""

    kind = "body"


class PayloadTooLarge(AppError):
    """The body (or one value in it) is larger than the limit; the message says which."""

    kind = "body"


class UnsupportedMediaType(AppError):
    """A file of a type the route does not take; the message lists those it does."""

    kind = "media_type"


class NotFound(AppError):
    kind = "not_found"


class Conflict(AppError):
    """The state changed under the caller (already claimed, closed, rated...)."""

    kind = "conflict"


class Unauthorized(AppError):
    """No credentials, or wrong, expired, forged or revoked ones."""

    kind = "unauthorized"


class Forbidden(AppError):
    """Known caller, but this is not theirs to do."""

    kind = "forbidden"


class RateLimited(AppError):
    """Too many requests; ``retry_after`` in whole seconds."""

    kind = "rate_limited"

    def __init__(self, message: str, retry_after: int, field: Optional[str] = None):
        super().__init__(message, field)
        self.retry_after = max(1, int(retry_after))


class UpstreamFailed(AppError):
    """A service we call for the caller answered but refused (e.g. the customer's
    channel did not accept a message); retrying the same request may not help."""

    kind = "upstream"


class DependencyUnavailable(AppError):
    """Redis, the lock store, the model or a backend does not answer; retry later.

    Never reported as done: an unknown state is a 503, not a 200 that lost
    the message.
    """

    kind = "unavailable"
