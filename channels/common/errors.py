"""The one place a typed error becomes an HTTP response.

Every connector (REST, desk, WhatsApp, health) answers errors through
:func:`error_response` or lets them reach :func:`install_error_handlers`.
Redis and Rasa's store/lock errors count as "dependency unavailable" (503):
a turn whose state is unknown is never answered as done.
"""
from __future__ import annotations

import logging
from typing import Dict, Optional, Tuple

from redis.exceptions import RedisError
from rasa.core.lock_store import LockError
from rasa.shared.exceptions import ConnectionException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.errors import (
    AppError,
    Conflict,
    DependencyUnavailable,
    Forbidden,
    InvalidInput,
    MalformedRequest,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    UnsupportedMediaType,
    UpstreamFailed,
)

logger = logging.getLogger(__name__)


class MethodNotAllowed(AppError):
    """The path exists, not with this HTTP method; ``allowed`` lists the ones it takes.

    HTTP's own concern (no library code raises it), so it lives here, not in bot.errors.
    """

    kind = "method"

    def __init__(self, method: str, allowed: Tuple[str, ...]):
        super().__init__(f"method {method} is not allowed here; use {', '.join(allowed)}")
        self.allowed = tuple(allowed)


STATUS: Dict[type, int] = {
    InvalidInput: 422,
    MalformedRequest: 400,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    MethodNotAllowed: 405,
    Conflict: 409,
    RateLimited: 429,
    DependencyUnavailable: 503,
    UpstreamFailed: 502,
}

# Errors from below (Redis, Rasa's stores) that mean "retry later".
UNAVAILABLE_ERRORS = (RedisError, LockError, ConnectionException)
REDIS_DOWN = "service unavailable: the conversation store (Redis) does not answer"


def status_of(error: AppError) -> int:
    """The HTTP status for ``error`` (the nearest class in :data:`STATUS`; else 500)."""
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def as_app_error(error: Exception) -> Optional[AppError]:
    """``error`` as one of ours, or ``None`` when it is a bug (a 500 with a traceback)."""
    if isinstance(error, AppError):
        return error
    if isinstance(error, UNAVAILABLE_ERRORS):
        return DependencyUnavailable(REDIS_DOWN)
    return None


def error_response(error: AppError, headers: Optional[Dict[str, str]] = None) -> HTTPResponse:
    """``{"detail", "field"?}`` with the status that fits; ``Retry-After`` on 429 and 503,
    ``WWW-Authenticate: Bearer`` on 401 (RFC 6750: says what credentials are wanted)."""
    extra = dict(headers or {})
    if isinstance(error, Unauthorized):
        extra.setdefault("WWW-Authenticate", "Bearer")
    elif isinstance(error, MethodNotAllowed):
        extra.setdefault("Allow", ", ".join(error.allowed))
    elif isinstance(error, RateLimited):
        extra.setdefault("Retry-After", str(error.retry_after))
    elif isinstance(error, DependencyUnavailable):
        extra.setdefault("Retry-After", "5")
    return response.json(error.as_dict(), status=status_of(error), headers=extra)


def install_error_handlers(blueprint: Blueprint) -> None:
    """Map our errors (and Redis/store failures) to JSON for every route of ``blueprint``.

    Anything else is a bug: it is logged with its stack and answered 500
    without details (the request id is in ``X-Request-ID`` when set).
    """

    @blueprint.exception(AppError, *UNAVAILABLE_ERRORS)
    async def _known(request: Request, error: Exception) -> HTTPResponse:
        app_error = as_app_error(error)
        if isinstance(app_error, DependencyUnavailable):
            logger.warning("%s %s: %s", request.method, request.path, error)
        return error_response(app_error)
