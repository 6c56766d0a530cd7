"""Writing into a customer's conversation outside a turn, as a turn would:
under the conversation's lock (every replica's turns wait for it), through
the agent's tracker store, so the event broker and the desk see the events."""
from __future__ import annotations

from typing import Any, Iterable

from rasa.shared.core.events import Event

LOCK_POLL_SECONDS = 0.02  # Rasa polls every 1 s by default: too slow for a chat


async def append_events(agent: Any, sender_id: str, events: Iterable[Event]) -> None:
    """Append ``events`` to ``sender_id``'s tracker (created if new)."""
    async with agent.lock_store.lock(sender_id, wait_time_in_seconds=LOCK_POLL_SECONDS):
        tracker = await agent.tracker_store.get_or_create_tracker(sender_id)
        for event in events:
            tracker.update(event)
        await agent.tracker_store.save(tracker)
