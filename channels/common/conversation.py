"""Writing into a customer's conversation outside a turn, as a turn would:
under the conversation's lock (every replica's turns wait for it), through
the agent's tracker store, so the event broker and the desk see the events."""
from __future__ import annotations

import logging
from typing import Any, Iterable, Optional

from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import Event

from bot.media.understanding import ConversationState
from channels.common.errors import UNAVAILABLE_ERRORS

logger = logging.getLogger(__name__)

LOCK_POLL_SECONDS = 0.02  # Rasa polls every 1 s by default: too slow for a chat


async def append_events(agent: Any, sender_id: str, events: Iterable[Event]) -> None:
    """Append ``events`` to ``sender_id``'s tracker (created if new)."""
    async with agent.lock_store.lock(sender_id, wait_time_in_seconds=LOCK_POLL_SECONDS):
        tracker = await agent.tracker_store.get_or_create_tracker(sender_id)
        for event in events:
            tracker.update(event)
        await agent.tracker_store.save(tracker)


async def tracker_state(agent: Any, sender_id: str) -> ConversationState:
    """Whether an atendente has the conversation, the customer's latest intent (one
    read) and what a caption asks: where a file they send goes. A store that does
    not answer gives the default; the turn itself will say so."""
    if agent is None or agent.tracker_store is None:
        return ConversationState()
    try:
        tracker = await agent.tracker_store.retrieve(sender_id)
    except UNAVAILABLE_ERRORS as error:
        logger.error("tracker not read (%s)", type(error).__name__)
        return ConversationState(classify=intent_classifier(agent))
    latest = tracker.latest_message if tracker is not None else None
    return ConversationState(tracker is not None and tracker.is_paused(),
                             (latest.intent or {}).get("name") if latest else None, intent_classifier(agent))


# A caption that asks for something (not "ok", "oi" or "ta assim aqui", read as affirm).
REQUEST_INTENT_PREFIXES = ("request_", "report_", "ask_")
REQUEST_INTENTS = ("inform_payment_done",)
CAPTION_MIN_CONFIDENCE = 0.6


def intent_classifier(agent: Any):
    """The request the agent's NLU is sure ``text`` makes (None when unclear, small talk or no model)."""
    async def classify(text: str) -> Optional[str]:
        if not agent.is_ready():
            return None
        intent = (await agent.processor.parse_message(UserMessage(text))).get("intent") or {}
        name, confidence = intent.get("name") or "", float(intent.get("confidence") or 0)
        asks = name.startswith(REQUEST_INTENT_PREFIXES) or name in REQUEST_INTENTS
        return name if asks and confidence >= CAPTION_MIN_CONFIDENCE else None
    return classify
