"""Reading the desk's conversations from Redis: lookups, listings, the queue, stats.

Keys, under ``<prefix>:desk:``::

    conv:<id>              hash: every field of :class:`Conversation`
    conv:<id>:transfers    list of JSON transfers (from, to, reason, by, at)
    conv:<id>:messages     list of JSON {author, at, id} (for metrics, not a transcript)
    open:<sender_id>       id of the sender's open conversation
    queue                  sorted set, score = -priority * 1e13 + created ms
                           (higher priority first, then first come, first served)
    queue:department:<d>   the same, for department <d> ("-": none); positions count here
    active                 sorted set of in_progress ids by claim time
    agent:<user>:active    set of the agent's in_progress ids
    all                    sorted set of every id by creation time
    stats:wait|handling    sorted sets "<seconds>:<id>" by claim / close time
    stats:resolved|csat    sorted sets of resolved ids / "<score>:<id>" by time

:class:`bot.desk.conversations.Conversations` adds the state changes on top.
"""
from __future__ import annotations

import hashlib
import logging
import re
import time
from datetime import datetime
from typing import Any, Dict, List, Optional

from redis.exceptions import RedisError

from bot.desk import lua
from bot.desk.errors import InvalidInput, NotFound
from bot.desk.events import DeskEvents
from bot.desk.hours import TIMEZONE
from bot.desk.keys import Keys
from bot.desk.model import (IN_PROGRESS, QUEUE, STATUSES, Conversation, QueueStatus, checked_text,
                            estimate_wait)
from bot.desk.settings import DeskSettings, desk_settings
from bot.desk.users import Users
from bot.phones import whatsapp_e164
from bot.redis_pool import Atomic

logger = logging.getLogger(__name__)


def index_value(kind: str, value: str) -> str:
    """How a value is filed: phones as E.164 digits, documents as a SHA-256
    digest of their digits (no CPF in key names), others as given, lowercased."""
    if kind == "phone":
        try:
            return whatsapp_e164(value)
        except ValueError:
            return re.sub(r"\D", "", value)
    if kind == "document":
        return hashlib.sha256(re.sub(r"\D", "", value).encode()).hexdigest()[:32]
    return value.strip().lower()

RECENT_HANDLING = 20  # closed conversations averaged for the wait estimate


class ConversationStore:
    """Where the conversations live; ``events`` (optional) publishes every change."""

    def __init__(self, redis, users: Users, events: Optional[DeskEvents] = None,
                 keys: Optional[Keys] = None, settings: Optional[DeskSettings] = None):
        self.redis = redis
        self.users = users
        self.events = events
        self.keys = keys or users.keys
        settings = settings or desk_settings()
        self.retention = settings.retention_days * 24 * 3600
        self.default_handling = settings.default_handling_seconds
        self._open = redis.register_script(lua.OPEN)
        self._claim = redis.register_script(lua.CLAIM)
        self._transfer = redis.register_script(lua.TRANSFER)
        self._requeue = redis.register_script(lua.REQUEUE)
        self._close = redis.register_script(lua.CLOSE)
        self._csat = redis.register_script(lua.CSAT)
        self._message = redis.register_script(lua.MESSAGE)

    def _conv(self, conversation_id: str, *rest: str) -> str:
        return self.keys("conv", conversation_id, *rest)

    def department_queue_key(self, department: Optional[str]) -> str:
        """The queue of one department (every waiting conversation is also in ``queue``)."""
        return self.keys("queue", "department", department or "-")

    def agent_set_key(self, username: Optional[str]) -> str:
        """The set of ``username``'s conversations in progress."""
        return self.keys("agent", username or "-", "active")

    async def _publish(self, event_type: str, conversation: Optional[Conversation] = None,
                       **data: Any) -> None:
        """Best effort: the change is already stored; a console that missed the
        event reads it on its next reload, so a failed publish must not undo or
        fail the operation."""
        if self.events is None:
            return
        try:
            await self.events.publish(event_type, conversation, **data)
        except RedisError as error:
            logger.warning("desk event %s of conversation %s not published: %s", event_type,
                           conversation.id if conversation else "-", error)

    async def _queue_changed(self, conversation: Conversation) -> None:
        try:
            size = await self.redis.zcard(self.keys("queue"))
        except RedisError:
            size = None
        # previous_status: every atendente saw it queued, so every one hears it left.
        previous = QUEUE if conversation.status != QUEUE else None
        await self._publish("queue_update", conversation, queue_size=size,
                            **({"previous_status": previous} if previous else {}))

    # -- reading ---------------------------------------------------------
    async def get(self, conversation_id: str) -> Optional[Conversation]:
        if not isinstance(conversation_id, str) or not conversation_id:
            return None
        return (await self._load([conversation_id]) or [None])[0]

    async def require(self, conversation_id: str) -> Conversation:
        conversation = await self.get(conversation_id)
        if conversation is None:
            raise NotFound(f"conversation {conversation_id!r} does not exist", "conversation_id")
        return conversation

    async def _load(self, ids: List[str]) -> List[Conversation]:
        pipe = self.redis.pipeline(transaction=False)
        for conversation_id in ids:
            pipe.hgetall(self._conv(conversation_id))
            pipe.lrange(self._conv(conversation_id, "transfers"), 0, -1)
            pipe.smembers(self._conv(conversation_id, "labels"))
            pipe.lrange(self._conv(conversation_id, "notes"), 0, -1)
        results = await pipe.execute()
        return [
            Conversation.from_hash(data, transfers, labels, notes)
            for data, transfers, labels, notes in zip(results[::4], results[1::4], results[2::4], results[3::4])
            if data
        ]

    async def find_open(self, sender_id: str) -> Optional[Conversation]:
        """The sender's conversation in the queue or with an agent, if any."""
        conversation_id = await self.redis.get(self.keys("open", sender_id))
        return await self.get(conversation_id) if conversation_id else None

    async def queue(self, limit: int = 100, department: Optional[str] = None) -> List[Conversation]:
        """Waiting conversations (of one department) in the order agents should take them."""
        key = self.keys("queue") if department is None else self.department_queue_key(department)
        return await self._load(await self.redis.zrange(key, 0, limit - 1))

    async def list(self, status: Optional[str] = None, channel: Optional[str] = None,
                   agent: Optional[str] = None, since: Optional[float] = None,
                   until: Optional[float] = None, limit: int = 100) -> List[Conversation]:
        """Filtered listing: the queue in queue order, others newest first."""
        if status is not None and status not in STATUSES:
            raise InvalidInput("status", f"must be one of {', '.join(STATUSES)}")
        if status == QUEUE:
            candidates = await self.queue(limit=10_000)
        elif status == IN_PROGRESS:
            if agent:
                ids = list(await self.redis.smembers(self.agent_set_key(agent)))
            else:
                ids = await self.redis.zrange(self.keys("active"), 0, -1)
            candidates = sorted(await self._load(ids), key=lambda c: -(c.claimed_at or 0))
        else:
            candidates = await self._scan_all(since, until)
        result = []
        for conversation in candidates:
            if ((status and conversation.status != status)
                    or (channel and conversation.channel != channel)
                    or (agent and conversation.agent != agent)
                    or (since is not None and conversation.created_at < since)
                    or (until is not None and conversation.created_at >= until)):
                continue
            result.append(conversation)
            if len(result) >= limit:
                break
        return result

    async def _scan_all(self, since: Optional[float], until: Optional[float], cap: int = 5000):
        """Every conversation created in [since, until), newest first, in pages (at most ``cap``)."""
        high = f"({until}" if until is not None else "+inf"
        low = since if since is not None else "-inf"
        offset, page = 0, 500
        loaded: List[Conversation] = []
        while True:
            ids = await self.redis.zrevrangebyscore(self.keys("all"), high, low,
                                                    start=offset, num=page)
            loaded += await self._load(ids)
            if len(ids) < page or len(loaded) >= cap:
                return loaded
            offset += page

    async def queue_sizes(self, departments: List[str]) -> Dict[str, int]:
        """How many wait in each department's queue."""
        pipe = self.redis.pipeline(transaction=False)
        for department in departments:
            pipe.zcard(self.department_queue_key(department))
        return dict(zip(departments, await pipe.execute()))

    async def position(self, conversation_id: str) -> Optional[int]:
        """1 for the next conversation its department's agents take; None when not queued."""
        department = await self.redis.hget(self._conv(conversation_id), "department")
        return await self._position(conversation_id, department)

    async def _position(self, conversation_id: str, department: Optional[str]) -> Optional[int]:
        rank = await self.redis.zrank(self.department_queue_key(department), conversation_id)
        return None if rank is None else rank + 1

    async def average_handling(self, recent: int = RECENT_HANDLING) -> float:
        """Mean handling time of the last ``recent`` closed conversations that an
        agent had claimed, or ``DESK_DEFAULT_HANDLING_SECONDS`` before there are any."""
        members = await self.redis.zrevrange(self.keys("stats", "handling"), 0, recent - 1)
        values = [float(member.split(":", 1)[0]) for member in members]
        return sum(values) / len(values) if values else float(self.default_handling)

    async def queue_status(self, conversation_id: str,
                           now: Optional[float] = None) -> Optional[QueueStatus]:
        """Position and estimated wait (:func:`estimate_wait`); None when not queued."""
        department = await self.redis.hget(self._conv(conversation_id), "department") or ""
        position = await self._position(conversation_id, department)
        if position is None:
            return None
        online = [agent.username for agent in await self.users.online_agents(now) if agent.serves(department)]
        pipe = self.redis.pipeline(transaction=False)
        for username in online:
            pipe.scard(self.agent_set_key(username))
        pipe.zcard(self.department_queue_key(department))
        *loads, size = await pipe.execute()
        idle = sum(1 for load in loads if load == 0)
        wait = estimate_wait(position, len(online), idle, await self.average_handling())
        return QueueStatus(position, size, len(online), wait)

    async def set_protocol(self, conversation_id: str, protocol: str) -> None:
        """The protocol given to the customer (ERP ticket or desk number)."""
        protocol = checked_text("protocol", protocol, 64, required=True)
        await self.redis.hset(self._conv(conversation_id), "protocol", protocol)
        await self.index(conversation_id, protocol=protocol)

    async def created_between(self, since: float, until: float, cap: int) -> List[Conversation]:
        """Every conversation created in [since, until) (for reports), at most ``cap``."""
        return await self._scan_all(since, until, cap)

    # -- search ------------------------------------------------------------
    def index_key(self, kind: str, value: str) -> str:
        return self.keys("idx", kind, value)

    async def index(self, conversation_id: str, **values: Optional[str]) -> None:
        """File the conversation under each given value (a Redis set per value,
        kept a day past the retention; ids whose conversation expired are dropped
        when a search meets them)."""
        pipe = self.redis.pipeline(transaction=False)
        for kind, value in values.items():
            key = self.index_key(kind, index_value(kind, value)) if value else None
            if key:
                pipe.sadd(key, conversation_id)
                pipe.expire(key, self.retention + 24 * 3600)
        await pipe.execute()

    async def search(self, *, document: Optional[str] = None, phone: Optional[str] = None,
                     protocol: Optional[str] = None, label: Optional[str] = None, agent: Optional[str] = None,
                     status: Optional[str] = None, since: Optional[float] = None, until: Optional[float] = None,
                     ) -> List[Conversation]:
        """Conversations matching every given filter, newest first. Exact filters
        (document, phone, protocol, label, agent) intersect their index sets; with
        none, the creation-time index is read for the date range (at most 5,000)."""
        exact = {kind: value for kind, value in (("document", document), ("phone", phone),
                                                 ("protocol", protocol), ("label", label), ("agent", agent)) if value}
        if exact:
            keys = [self.index_key(kind, index_value(kind, value)) for kind, value in exact.items()]
            ids = list(await self.redis.sinter(keys))
            found = await self._load(ids)
            gone = set(ids) - {c.id for c in found}
            if gone:
                pipe = self.redis.pipeline(transaction=False)
                for key in keys:
                    pipe.srem(key, *gone)
                await pipe.execute()
        else:
            found = await self._scan_all(since, until)
        return sorted((c for c in found
                       if (status is None or c.status == status)
                       and (since is None or c.created_at >= since) and (until is None or c.created_at < until)),
                      key=lambda c: -c.created_at)

    async def next_protocol(self, now: Optional[float] = None) -> str:
        """A desk protocol number, ``YYYYMMDD`` (Sao Paulo) + a 6-digit daily
        sequence, for customers the ERP does not know (SAC rules ask one per demand)."""
        day = datetime.fromtimestamp(time.time() if now is None else now,
                                     TIMEZONE).strftime("%Y%m%d")
        key = self.keys("protocol", day)
        sequence, _ = await Atomic(self.redis).call("INCR", key).call("EXPIRE", key, 3 * 24 * 3600).execute()
        return f"{day}{sequence:06d}"

    async def agent_load(self, username: str) -> int:
        """How many conversations the agent has in progress."""
        return await self.redis.scard(self.agent_set_key(username))
