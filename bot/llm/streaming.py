"""Partial answers for channels that can show them while the model writes.

The fallback runs in the action server, whose reply reaches Rasa only when
the action ends; the partials take a side path through Redis to the replica
holding the customer's connection, the same paths the connectors already use
for messages sent outside a request:

- WebSocket (``websocket``): the pub/sub channel ``<prefix>:live:<sender_id>``
  (``bot.outbox``), arriving as ``chat`` frames whose ``data`` has
  ``partial: true``, ``stream_id`` and ``seq`` (not stored in the outbox);
- socket.io (``socketio``): python-socketio's Redis manager (channel
  ``<prefix>:socketio``, write-only here), event ``bot_uttered_partial``
  ``{text, partial, stream_id, seq}`` to the session's room; rasa-webchat
  ignores unknown events, custom clients can render it.

The final message follows as usual and is authoritative: clients replace the
partial text with it. WhatsApp and REST get the final message only.
"""
from __future__ import annotations

import json
import logging
import uuid
from typing import Awaitable, Callable, Optional

from bot.outbox import live_channel
from bot.redis_pool import get_redis, redis_key
from bot.settings import Settings

logger = logging.getLogger(__name__)

PARTIAL_EVENT = "bot_uttered_partial"
STREAMING_CHANNELS = ("websocket", "socketio")
_socketio_manager = None


def _socketio():
    global _socketio_manager
    if _socketio_manager is None:
        from socketio import AsyncRedisManager  # python-socketio, installed with Rasa

        _socketio_manager = AsyncRedisManager(Settings.from_env().redis.url,
                                              channel=redis_key("socketio"), write_only=True)
    return _socketio_manager


def partial_sender(channel: Optional[str], sender_id: str) -> Optional[Callable[[str], Awaitable[None]]]:
    """A coroutine function sending one partial piece to ``sender_id``, or ``None``
    when ``channel`` shows only final messages."""
    if channel not in STREAMING_CHANNELS:
        return None
    stream_id = uuid.uuid4().hex[:12]
    seq = 0

    async def send(text: str) -> None:
        nonlocal seq
        seq += 1
        piece = {"text": text, "partial": True, "stream_id": stream_id, "seq": seq}
        if channel == "websocket":
            await get_redis().publish(live_channel(sender_id), json.dumps(
                {"id": f"partial-{stream_id}-{seq}", "message": piece}, ensure_ascii=False))
        else:
            room = sender_id if sender_id.startswith("web:") else f"web:{sender_id}"
            await _socketio().emit(PARTIAL_EVENT, piece, room=room, namespace="/")

    return send
