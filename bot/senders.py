"""Conversation (sender) ids: one prefix per channel, built and read here only.

Rasa keys a conversation by its sender id; ours say where the customer is:
``wa:<wa_id>`` (WhatsApp), ``web:<session>`` (socket.io widget and
WebSocket), ``api:<session>`` (the chat REST API). Rasa's own REST webhook
may use any other id, but never one of these prefixes (it would write into
another channel's conversation).
"""
from __future__ import annotations

from typing import Optional, Tuple

WHATSAPP = "wa"
WEB = "web"
API = "api"
CHANNELS = (WHATSAPP, WEB, API)
RESERVED_PREFIXES = tuple(f"{channel}:" for channel in CHANNELS)


def sender_id(channel: str, local_id: str) -> str:
    """``channel:local_id``; a ``local_id`` already carrying that prefix is kept as it is."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; one of {', '.join(CHANNELS)}")
    prefix = f"{channel}:"
    return local_id if local_id.startswith(prefix) else prefix + local_id


def split(sender: str) -> Tuple[Optional[str], str]:
    """``(channel, local_id)``; ``(None, sender)`` for an id of no channel of ours."""
    channel, separator, local_id = sender.partition(":")
    if separator and channel in CHANNELS:
        return channel, local_id
    return None, sender


def channel_of(sender: str) -> Optional[str]:
    """``"wa"``, ``"web"``, ``"api"`` or ``None``."""
    return split(sender)[0]


def local_id(sender: str, channel: str) -> str:
    """The id without ``channel``'s prefix (a WhatsApp number, a session id)."""
    found, rest = split(sender)
    return rest if found == channel else sender


def is_reserved(sender: str) -> bool:
    """True when ``sender`` belongs to one of our channels (not for Rasa's REST webhook)."""
    return sender.startswith(RESERVED_PREFIXES)
