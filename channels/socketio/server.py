"""The socket.io server: python-socketio's ``AsyncServer``, quiet about malformed client packets."""
from __future__ import annotations

import logging
from typing import Any, Optional

from socketio import AsyncServer, packet

logger = logging.getLogger(__name__)

# Names socket.io uses itself: sent by a client as events, they reached our connect handler.
RESERVED_EVENTS = ("connect", "disconnect", "connect_error")


def malformed_packet(packet_class: Any, data: str) -> Optional[str]:
    """Why a client's socket.io text packet cannot be dispatched, or None if it can."""
    try:
        pkt = packet_class(encoded_packet=data)
    except Exception as error:  # bad JSON, too deep, unknown type: the decoder's own errors
        return f"not a socket.io packet ({type(error).__name__})"
    if pkt.packet_type in (packet.EVENT, packet.BINARY_EVENT):
        if not isinstance(pkt.data, list) or not 1 <= len(pkt.data) <= 2 or not isinstance(pkt.data[0], str):
            return "an event must be [name] or [name, payload] with a string name"
        if pkt.data[0] in RESERVED_EVENTS:
            return f"event name {pkt.data[0]!r} is reserved"
    elif pkt.packet_type not in (packet.CONNECT, packet.DISCONNECT, packet.ACK, packet.BINARY_ACK):
        return f"packet type {pkt.packet_type} is not sent by clients"
    return None


class QuietAsyncServer(AsyncServer):
    """``AsyncServer`` that drops a malformed client packet with one log line.

    python-socketio raises on them (``42``, ``42[``, ``42[[1]]``) and
    Engine.IO logs the traceback: noise anyone could pour into our logs. The
    connection stays open either way. (Hooks ``_handle_eio_message``; the
    version is pinned in requirements.lock.)
    """

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        if eio_sid not in self._binary_packet:
            problem = (malformed_packet(self.packet_class, data) if isinstance(data, str)
                       else "binary data without a binary packet before it")
            if problem:
                logger.warning("socketio: malformed packet dropped: %s", problem)
                return
        await super()._handle_eio_message(eio_sid, data)
