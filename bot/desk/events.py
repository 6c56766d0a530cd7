"""Desk events over Redis pub/sub, so a change on one replica reaches agents on all.

The action server queues a customer, a Rasa replica relays their messages, an
agent's browser is connected to yet another replica: each publishes on the
channel ``<prefix>:desk:events`` and every desk WebSocket handler subscribes
to it, then forwards to each connected agent only what
:meth:`DeskEvent.visible_to` allows (the same rule as the API).

Payloads are JSON. They name the conversation and its assignee and status but
never the customer's phone, contract or sender id (``wa:<phone>``); message
text travels only in ``new_message``, which only agents allowed to read the
conversation receive. Pub/sub does not store: a console that reconnects reads
the current state from the API, then listens again.
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, AsyncIterator, Dict, Optional, Tuple

from bot.desk.errors import InvalidInput
from bot.desk.keys import Keys
from bot.redis_pool import publish, subscriber_of

logger = logging.getLogger(__name__)

NEW_MESSAGE = "new_message"
CONVERSATION_ASSIGNED = "conversation_assigned"
CONVERSATION_CLOSED = "conversation_closed"
QUEUE_UPDATE = "queue_update"
AGENT_TYPING = "agent_typing"
CUSTOMER_TYPING = "customer_typing"
EVENT_TYPES = (NEW_MESSAGE, CONVERSATION_ASSIGNED, CONVERSATION_CLOSED, QUEUE_UPDATE,
               AGENT_TYPING, CUSTOMER_TYPING)


@dataclass(frozen=True)
class DeskEvent:
    type: str
    data: Dict[str, Any]
    conversation_id: Optional[str] = None
    status: Optional[str] = None  # the conversation's, when the event was sent
    agent: Optional[str] = None  # its assignee then
    also_to: Tuple[str, ...] = ()  # e.g. the agent a conversation was transferred from
    at: float = 0.0
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    department: str = ""  # the conversation's, when the event was sent

    def visible_to(self, username: str, sees_everything: bool, departments: Tuple[str, ...] = ()) -> bool:
        """The access rule of the API: supervisors/admins see every event;
        atendentes those of conversations queued in the departments they serve
        (also the event of one leaving the queue: ``data.previous_status``) and
        of their own."""
        if sees_everything or self.conversation_id is None:
            return True
        if username == self.agent or username in self.also_to:
            return True
        queued = self.status == "queue" or self.data.get("previous_status") == "queue"
        return queued and (not departments or not self.department or self.department in departments)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> "DeskEvent":
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("type") not in EVENT_TYPES:
            raise ValueError("not a desk event")
        data["also_to"] = tuple(data.get("also_to") or ())
        return cls(**data)


class DeskEvents:
    def __init__(self, redis, keys: Optional[Keys] = None, subscriber=None):
        self.redis = redis
        self.subscriber = subscriber  # client for subscriptions; defaults to ``redis``
        self.channel = (keys or Keys())("events")

    async def publish(self, event_type: str, conversation: Any = None,
                      **data: Any) -> DeskEvent:
        """Send an event; ``conversation`` (a desk Conversation) adds its
        :meth:`event_view` to ``data`` and sets who may see the event."""
        if event_type not in EVENT_TYPES:
            raise InvalidInput("type", f"must be one of {', '.join(EVENT_TYPES)}")
        also_to: Tuple[str, ...] = ()
        if conversation is not None:
            data = {"conversation": conversation.event_view(), **data}
            previous = data.get("previous_agent")
            also_to = (previous,) if previous else ()
        event = DeskEvent(
            type=event_type, data=data,
            conversation_id=conversation.id if conversation is not None else None,
            status=conversation.status if conversation is not None else None,
            agent=conversation.agent if conversation is not None else None,
            also_to=also_to, at=time.time(),
            department=getattr(conversation, "department", "") if conversation is not None else "",
        )
        await publish(self.redis, self.channel, event.to_json())
        return event

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[AsyncIterator[DeskEvent]]:
        """``async with events.subscribe() as stream: async for event in stream``.

        The subscription is confirmed by Redis before the block starts, so no
        event published afterwards is missed.
        """
        client = self.subscriber or subscriber_of(self.redis)
        pubsub = client.pubsub()
        await pubsub.subscribe(self.channel)
        try:
            for _ in range(5):  # wait (up to ~5 s) for Redis to confirm the subscription
                message = await pubsub.get_message(timeout=1.0)
                if message and message["type"] == "subscribe":
                    break
            else:
                raise TimeoutError(f"Redis did not confirm the subscription to {self.channel}")
            yield self._stream(pubsub)
        finally:
            await pubsub.unsubscribe()
            await pubsub.close()
            if client is not self.subscriber and client is not self.redis:
                await client.close()  # the cluster case: a connection made for this subscription

    @staticmethod
    async def _stream(pubsub) -> AsyncIterator[DeskEvent]:
        while True:
            # A short poll instead of a blocking read: the shared client's
            # socket timeout (REDIS_TIMEOUT_SECONDS) would end a long one.
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is None or message["type"] != "message":
                continue
            try:
                yield DeskEvent.from_json(message["data"])
            except (ValueError, TypeError):
                logger.warning("ignored a malformed desk event on %s", message.get("channel"))
