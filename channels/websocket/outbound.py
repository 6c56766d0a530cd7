"""Pushing to a live WebSocket from anywhere: the session's pub/sub channel.

Sanic-free on purpose (``bot/`` and ``actions/`` may import it, see
docs/architecture.md). A connected socket, on whichever replica holds it,
listens on ``<prefix>:live:<sender_id>`` (:func:`bot.outbox.live_channel`)
and forwards each published ``{"id", "message"}`` as a ``chat`` frame, or
``{"type": "typing", "active"}`` as a ``typing`` frame. Messages that must
survive a disconnect go through :class:`bot.outbox.Outbox` instead (stored,
then published); this module is for what only matters live.
"""
from __future__ import annotations

import json
from typing import Any, Dict

from bot.outbox import live_channel
from bot.redis_pool import get_redis, publish as redis_publish


async def publish(sender_id: str, message: Dict[str, Any], message_id: str) -> None:
    """Send ``message`` to the live connection of ``sender_id`` (not kept: lost if none is open)."""
    await redis_publish(get_redis(), live_channel(sender_id), json.dumps(
        {"id": message_id, "message": message}, ensure_ascii=False))
