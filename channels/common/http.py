"""What the chat HTTP routes share: API keys, the rate limit, JSON bodies, the turn, error answers.

Used by the chat REST API (``channels/rest.py``) and Rasa's REST webhook
(``channels/rasa_rest.py``); :func:`as_handler` by any connector whose
routes are methods. Failures are raised as :mod:`bot.errors` types and
answered only through :mod:`channels.common.errors` (one status mapping,
``Retry-After`` on 429/503). The socket connectors answer in frames, not
HTTP, so they keep their own error codes.
"""
from __future__ import annotations

import functools
import hmac
import logging
import re
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional, Tuple

from rasa.core.channels.channel import UserMessage
from redis.exceptions import RedisError
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import chat_input, metrics
from bot.errors import AppError, DependencyUnavailable, RateLimited, Unauthorized
from bot.rate_limit import RateLimiter
from bot.redis_pool import get_redis
from channels.common.errors import REDIS_DOWN, MethodNotAllowed, error_response
from channels.common.idempotency import HEADER as IDEMPOTENCY_HEADER, Outcome, parse_key
from channels.common.turn import ServiceUnavailable, check_redis, run_turn

logger = logging.getLogger(__name__)

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
INTERNAL = "internal error; the request id is in the X-Request-ID header"


def as_handler(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """A bound method as a Sanic route handler (Sanic sets attributes on handlers,
    which a bound method does not take), so routes can be small methods."""

    @functools.wraps(method)
    async def handler(*args: Any, **kwargs: Any) -> Any:
        return await method(*args, **kwargs)

    return handler


# Methods a client may try on a path of ours; those a route does not take get a JSON 405.
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def refuse_other_methods(blueprint: Blueprint, uri: str, allowed: Tuple[str, ...], name: str) -> None:
    """Answer the methods ``uri`` does not take with a JSON 405 and ``Allow``.

    Sanic's own 405 happens before routing, where a blueprint's error
    handlers do not reach (an HTML page), so the other methods get a route
    that raises :class:`MethodNotAllowed` through the one mapping.
    """
    others = [method for method in METHODS if method not in allowed]

    async def refuse(request: Request, **_: Any) -> HTTPResponse:
        return error_response(MethodNotAllowed(request.method, allowed))

    refuse.__name__ = f"{name}_other_methods"
    blueprint.add_route(refuse, uri, methods=others, name=refuse.__name__)


def request_id(request: Request) -> str:
    """The client's ``X-Request-ID`` when it is a sane one, else a new id."""
    given = request.headers.get("x-request-id", "")
    return given if REQUEST_ID.match(given) else uuid.uuid4().hex


def idempotency_key(request: Request) -> Optional[str]:
    """The ``Idempotency-Key`` header, checked (InvalidInput naming it); ``None`` when absent."""
    return parse_key(request.headers.get(IDEMPOTENCY_HEADER))


def replay_headers(outcome: Outcome) -> Dict[str, str]:
    """``Idempotent-Replayed: true`` on a stored answer, so a client can tell."""
    return {"Idempotent-Replayed": "true"} if outcome.replayed else {}


def bearer_matches(request: Request, secrets: Tuple[str, ...]) -> Optional[bool]:
    """``None`` without an ``Authorization`` header; else whether it is
    ``Bearer <one of secrets>`` (compared in constant time)."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, given = header.partition(" ")
    given = given.strip()
    return scheme.lower() == "bearer" and bool(given) and any(
        hmac.compare_digest(given.encode(), secret.encode()) for secret in secrets if secret
    )


def authorize(api_keys: Tuple[str, ...], request: Request) -> None:
    """Unauthorized unless ``Authorization: Bearer <key>`` is one of ``api_keys`` (none set: open)."""
    if api_keys and not bearer_matches(request, api_keys):
        raise Unauthorized("Authorization: a valid bearer API key is required", field="Authorization")


async def rate_limit(per_minute: int, sender: str, field: str) -> None:
    """RateLimited over ``per_minute`` messages of ``sender`` (one budget per sender, in Redis).

    DependencyUnavailable without Redis, also with the limit off (0): the turn
    would fail on the tracker store anyway, better before Rasa starts it.
    """
    redis = get_redis()
    limiter = RateLimiter(redis, per_minute, "chat")
    try:
        wait = await limiter.hit(sender)
        if limiter.limit <= 0:
            await check_redis(redis)
    except (RedisError, OSError, ServiceUnavailable) as error:
        logger.error("chat: Redis is not available: %s", error)
        raise DependencyUnavailable(REDIS_DOWN) from None
    if wait is not None:
        raise RateLimited(f"{field}: more than {limiter.limit} messages per minute; "
                          f"retry in {wait}s", wait, field)


def json_body(request: Request) -> Any:
    """The request's JSON through :func:`bot.chat_input.parse_json` (PayloadTooLarge, MalformedRequest)."""
    return chat_input.parse_json(request.body or b"")


async def api_turn(request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]],
                   message: UserMessage, channel: str, recover: bool = False) -> None:
    """:func:`channels.common.turn.run_turn`: store down is a 503, anything else a logged 500."""
    try:
        await run_turn(request.app, on_new_message, message, channel, recover=recover)
    except ServiceUnavailable as error:
        raise DependencyUnavailable(f"service unavailable: {error}") from None
    except Exception:  # guards a customer's turn: logged with its stack, counted, answered 500
        logger.exception("%s: turn of %s failed", channel, message.sender_id)
        metrics.record_unexpected(f"{channel}.turn")
        raise AppError(INTERNAL) from None


def metric_kind(error: AppError) -> str:
    """The ``kind`` label of ``isp_errors_total``: every bad-request error counts as validation."""
    return "validation" if error.kind in ("validation", "body") else error.kind


def failed(channel: str, error: AppError, headers: Optional[dict] = None) -> HTTPResponse:
    """Count ``error`` for ``channel`` and answer it through the one mapping."""
    metrics.record_error(channel, metric_kind(error))
    return error_response(error, headers)

