"""One customer turn through Rasa, with metrics and honest failures.

Stock Rasa keeps answering from memory when Redis dies (the tracker store
falls back silently), which would lose the conversation and the lock across
replicas. So a connector checks Redis first and maps Redis and lock errors
raised during the turn to :class:`ServiceUnavailable` (HTTP 503, WebSocket
``unavailable``), never an empty success.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import UserMessage
from redis.exceptions import RedisError

from bot import metrics
from bot.errors import DependencyUnavailable
from channels.common.drain import DRAIN
from channels.common.errors import UNAVAILABLE_ERRORS

logger = logging.getLogger(__name__)


class ServiceUnavailable(DependencyUnavailable):
    """Redis, the lock store or the model is not available; retry later.

    The message says what (``no model is loaded``); each connector words it
    for its clients (``service unavailable: ...``).
    """


async def check_redis(redis) -> None:
    try:
        await redis.ping()
    except (RedisError, OSError) as error:
        raise ServiceUnavailable(f"Redis is not available: {error}") from None


async def run_turn(
    app: Any,
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
    message: UserMessage,
    channel: str,
) -> None:
    """Parse ``message`` (to label the metrics with its intent) and let Rasa handle it.

    Parsing here is what Rasa would do first anyway; passing ``parse_data``
    makes Rasa skip its own parse, so the model runs once.
    """
    agent = app.ctx.agent
    if agent is None or not agent.is_ready():
        metrics.record_error(channel, "unavailable")
        raise ServiceUnavailable("no model is loaded")
    if DRAIN.draining:
        metrics.record_error(channel, "unavailable")
        raise ServiceUnavailable("this server is shutting down")
    with DRAIN.turn():
        await _run(agent, on_new_message, message, channel)


async def _run(agent: Any, on_new_message: Callable[[UserMessage], Awaitable[Any]],
               message: UserMessage, channel: str) -> None:
    started = time.perf_counter()
    intent = None
    try:
        message.parse_data = await agent.processor.parse_message(message)
        intent = metrics.known_intent(
            (message.parse_data.get("intent") or {}).get("name"), agent.domain.intents
        )
        await on_new_message(message)
    except UNAVAILABLE_ERRORS as error:
        metrics.record_error(channel, "unavailable")
        logger.error("%s: turn of %s failed, store unavailable: %s", channel, message.sender_id, error)
        raise ServiceUnavailable("the conversation store (Redis) is not available") from error
    except Exception:
        metrics.record_error(channel, "internal")
        raise
    finally:
        metrics.record_turn(channel, intent, time.perf_counter() - started)
