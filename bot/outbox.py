"""Messages delivered to a customer outside a request (agent replies, notices).

Each conversation has a Redis stream ``<prefix>:outbox:<sender_id>``: the
stream id is the message id (monotonic, ``<ms>-<seq>``), so a client asks for
everything ``after`` the last id it saw and nothing is lost while it is
offline. The same script publishes the message on
``<prefix>:live:<sender_id>`` for a WebSocket connected to any replica.
"""
from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional

from bot.redis_pool import conversation_key, get_redis, publish
from bot.settings import env_int

MESSAGE_ID = re.compile(r"^\d{1,20}(-\d{1,20})?$")

# XADD + EXPIRE + optional PUBLISH in one atomic round trip; returns the id.
_PUSH = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'm', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
if ARGV[4] == '1' then
  redis.call('PUBLISH', KEYS[2], '{"id":"' .. id .. '","message":' .. ARGV[1] .. '}')
end
return id
"""


def outbox_key(sender_id: str) -> str:
    return conversation_key("outbox", sender_id)


def live_channel(sender_id: str) -> str:
    """The pub/sub channel a connected client of ``sender_id`` listens on.

    The push script names it among its keys, so on a Redis Cluster it carries
    the conversation's hash tag like the outbox key (same slot)."""
    return conversation_key("live", sender_id)


class Outbox:
    """Stores (and optionally publishes) messages per conversation."""

    def __init__(self, redis, ttl_seconds: int, max_messages: int):
        self.redis = redis
        self.ttl_seconds = ttl_seconds
        self.max_messages = max_messages
        self._push = redis.register_script(_PUSH)

    @classmethod
    def from_env(cls, redis=None) -> "Outbox":
        """``CHAT_MESSAGES_TTL_SECONDS`` (default 7 days) and ``CHAT_MESSAGES_MAX`` (500)."""
        return cls(
            redis or get_redis(),
            env_int("CHAT_MESSAGES_TTL_SECONDS", 7 * 24 * 3600, 1),
            env_int("CHAT_MESSAGES_MAX", 500, 1),
        )

    async def push(self, sender_id: str, message: Dict[str, Any], publish: bool = False) -> str:
        """Keep ``message`` for ``sender_id``; its id."""
        return await self._push(
            keys=[outbox_key(sender_id), live_channel(sender_id)],
            args=[
                json.dumps(message, ensure_ascii=False),
                self.max_messages,
                self.ttl_seconds,
                "1" if publish else "0",
            ],
        )

    async def publish_typing(self, sender_id: str, active: bool) -> None:
        """Tell a connected client that someone is typing (nothing is stored)."""
        await publish(self.redis, live_channel(sender_id),
                      json.dumps({"type": "typing", "active": bool(active)}))

    async def after(
        self, sender_id: str, after: Optional[str] = None, limit: int = 100
    ) -> List[Dict[str, Any]]:
        """Messages newer than id ``after`` (all kept ones when ``None``), oldest first."""
        start = f"({after}" if after else "-"
        entries = await self.redis.xrange(outbox_key(sender_id), min=start, max="+", count=limit)
        return [{"id": entry_id, **json.loads(fields["m"])} for entry_id, fields in entries]
