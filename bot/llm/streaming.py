"""Partial answers for channels that can show them while the model writes.

The fallback runs in the action server, whose reply reaches Rasa only when
the action ends; the partials take a side path through Redis to the replica
holding the customer's connection, the same paths the connectors already use
for messages sent outside a request:

- WebSocket (``websocket``): ``channels.websocket.outbound.publish`` (the
  session's live pub/sub channel), arriving as ``chat`` frames whose ``data``
  has ``partial: true``, ``stream_id`` and ``seq`` (not stored in the outbox);
- socket.io (``socketio``): ``channels.socketio.outbound.emit_to_session``
  (python-socketio's Redis manager, write-only here), event
  ``bot_uttered_partial`` ``{text, partial, stream_id, seq}`` to the
  session's room; rasa-webchat ignores unknown events, custom clients can
  render it.

The final message follows as usual and is authoritative: clients replace the
partial text with it. WhatsApp and REST get the final message only.
"""
from __future__ import annotations

import logging
import uuid
from typing import Awaitable, Callable, Optional

from channels.socketio import outbound as socketio_outbound
from channels.websocket import outbound as websocket_outbound

logger = logging.getLogger(__name__)

PARTIAL_EVENT = "bot_uttered_partial"
STREAMING_CHANNELS = ("websocket", "socketio")


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
            await websocket_outbound.publish(sender_id, piece, f"partial-{stream_id}-{seq}")
        else:
            await socketio_outbound.emit_to_session(PARTIAL_EVENT, piece, sender_id)

    return send
