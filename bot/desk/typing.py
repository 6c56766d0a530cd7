"""A customer typing, shown to the atendente who has their conversation.

The WebSocket (``typing`` frame) and socket.io (``user_typing`` event) report
it; WhatsApp has no typing signal. A change of state becomes a desk
``customer_typing`` event; "still typing" again only every
:data:`REPEAT_SECONDS`, so a chatty client costs one Redis read every few
seconds, and nothing at all while the bot (not the desk) has the customer.
"""
from __future__ import annotations

import time
from typing import Optional

from bot.desk.conversations import IN_PROGRESS
from bot.desk.events import CUSTOMER_TYPING

REPEAT_SECONDS = 3.0


class TypingReports:
    """One connection's reports, thinned out (one per socket, not shared)."""

    def __init__(self) -> None:
        self._active: Optional[bool] = None
        self._at = 0.0

    def worth_sending(self, active: bool, now: Optional[float] = None) -> bool:
        now = time.monotonic() if now is None else now
        if active == self._active and (not active or now - self._at < REPEAT_SECONDS):
            return False
        self._active, self._at = active, now
        return True


async def report_customer_typing(desk, sender_id: str, active: bool) -> bool:
    """Publish ``customer_typing`` for the sender's conversation with an atendente;
    whether there was one."""
    conversation = await desk.conversations.find_open(sender_id)
    if conversation is None or conversation.status != IN_PROGRESS:
        return False
    await desk.events.publish(CUSTOMER_TYPING, conversation, conversation_id=conversation.id, typing=active)
    return True
