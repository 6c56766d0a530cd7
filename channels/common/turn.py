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
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional

from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import BotUttered, Event, UserUttered
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
    recover: bool = False,
) -> None:
    """Parse ``message`` (to label the metrics with its intent) and let Rasa handle it.

    Parsing here is what Rasa would do first anyway; passing ``parse_data``
    makes Rasa skip its own parse, so the model runs once. With ``recover``
    (an idempotency key taken over from a dead replica) a turn the tracker
    already holds is replayed, not run again (:func:`replay_from_tracker`).
    """
    agent = app.ctx.agent
    if agent is None or not agent.is_ready():
        metrics.record_error(channel, "unavailable")
        raise ServiceUnavailable("no model is loaded")
    if DRAIN.draining:
        metrics.record_error(channel, "unavailable")
        raise ServiceUnavailable("this server is shutting down")
    with DRAIN.turn():
        if recover and await _replayed(agent, message, channel):
            return
        await _run(agent, on_new_message, message, channel)


def answers_of(events: Iterable[Event], message_id: Optional[str]) -> Optional[List[Dict[str, Any]]]:
    """The bot messages, as Rasa sent them, that answered the user message with
    ``message_id`` among ``events``; ``None`` when that message is not there."""
    answers: Optional[List[Dict[str, Any]]] = None
    for event in events:
        if isinstance(event, UserUttered):
            if answers is not None:
                break
            if message_id is not None and event.message_id == message_id:
                answers = []
        elif isinstance(event, BotUttered) and answers is not None:
            answers.append(event.message())
    return answers


async def stored_answers(agent: Any, sender_id: str, message_id: Optional[str]) -> Optional[List[Dict[str, Any]]]:
    """:func:`answers_of` in ``sender_id``'s stored conversation.

    Read under the conversation's lock, so a turn still running elsewhere (a
    stalled replica, not a dead one) ends, and saves, before we look.
    """
    async with agent.lock_store.lock(sender_id):
        tracker = await agent.tracker_store.retrieve(sender_id)
    return answers_of(tracker.events if tracker else [], message_id)


async def replay_from_tracker(agent: Any, message: UserMessage) -> bool:
    """Whether the tracker already holds ``message`` (by ``message_id``); if so its
    answers go out through ``message.output_channel`` again and no turn runs."""
    answers = await stored_answers(agent, message.sender_id, message.message_id)
    if answers is None:
        return False
    for answer in answers:
        await message.output_channel.send_response(message.sender_id, answer)
    return True


async def _replayed(agent: Any, message: UserMessage, channel: str) -> bool:
    try:
        replayed = await replay_from_tracker(agent, message)
    except UNAVAILABLE_ERRORS as error:
        metrics.record_error(channel, "unavailable")
        raise ServiceUnavailable("the conversation store (Redis) is not available") from error
    if replayed:
        logger.warning("%s: %s was already in the tracker (its replica died before answering): "
                       "answers replayed, no second turn", channel, message.message_id)
    return replayed


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
