"""Desk conversations: the queue, claims, transfers, closing and CSAT, in Redis.

A desk conversation is the part of a customer's chat that a human handles. At
most one is open (``queue`` or ``in_progress``) per ``sender_id``; it ends as
``resolved`` (an agent closed it with a resolution) or ``closed`` (it ended
without one: the customer left the queue, or an agent closed it as not
resolved).

Keys, under ``<prefix>:desk:``::

    conv:<id>              hash: every field of :class:`Conversation`
    conv:<id>:transfers    list of JSON transfers (from, to, reason, by, at)
    conv:<id>:messages     list of JSON {author, at, id} (for metrics, not a transcript)
    open:<sender_id>       id of the sender's open conversation
    queue                  sorted set, score = -priority * 1e13 + created ms
                           (higher priority first, then first come, first served)
    active                 sorted set of in_progress ids by claim time
    agent:<user>:active    set of the agent's in_progress ids
    all                    sorted set of every id by creation time
    stats:wait|handling    sorted sets "<seconds>:<id>" by claim / close time
    stats:resolved|csat    sorted sets of resolved ids / "<score>:<id>" by time

Every state change is one Lua script that re-checks the state it expects
(status and assigned agent), so two replicas never both win: 20 agents
claiming one conversation at once give one winner and 19 :class:`AlreadyClaimed`.
Open conversations never expire; closed ones are kept ``DESK_RETENTION_DAYS``
(default 90). The scripts use several keys of one prefix, so this needs a
single Redis (or one Cluster hash slot), like Rasa's own Redis stores.
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Dict, List, Optional
from zoneinfo import ZoneInfo

from redis.exceptions import RedisError

from bot.desk.errors import AlreadyClaimed, Conflict, Forbidden, InvalidInput, NotFound
from bot.desk.events import DeskEvents
from bot.desk.keys import Keys
from bot.desk.users import Agent, Users
from bot.desk.settings import DeskSettings, desk_settings

logger = logging.getLogger(__name__)

QUEUE, IN_PROGRESS, RESOLVED, CLOSED = "queue", "in_progress", "resolved", "closed"
STATUSES = (QUEUE, IN_PROGRESS, RESOLVED, CLOSED)
OPEN = (QUEUE, IN_PROGRESS)
PRIORITY_MIN, PRIORITY_MAX = 0, 100
CUSTOMER_CANCELLED = "cancelled_by_customer"
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
RECENT_HANDLING = 20  # closed conversations averaged for the wait estimate

_OPEN = """
local existing = redis.call('GET', KEYS[1])
if existing then return {existing, 0} end
redis.call('HSET', KEYS[2], unpack(ARGV, 4))
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
return {ARGV[1], 1}
"""
# KEYS: conv, queue, active, agent set, stats:wait. ARGV: id, agent, now
_CLAIM = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing', ''} end
if status ~= 'queue' then return {status, redis.call('HGET', KEYS[1], 'agent') or ''} end
local waited = tonumber(ARGV[3]) - tonumber(redis.call('HGET', KEYS[1], 'created_at'))
redis.call('HSET', KEYS[1], 'status', 'in_progress', 'agent', ARGV[2], 'claimed_at', ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[3], string.format('%.3f', waited) .. ':' .. ARGV[1])
return {'ok', ARGV[2]}
"""
# KEYS: conv, transfers, old agent set, new agent set. ARGV: id, from, to, entry
_TRANSFER = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status ~= 'in_progress' or redis.call('HGET', KEYS[1], 'agent') ~= ARGV[2] then
  return 'changed'
end
redis.call('HSET', KEYS[1], 'agent', ARGV[3])
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('RPUSH', KEYS[2], ARGV[4])
return 'ok'
"""
# KEYS: conv, queue, active, agent set, open, transfers, messages, all,
#       stats:wait, stats:handling, stats:resolved, stats:csat
# ARGV: id, expected status, expected agent, new status, resolution, notes,
#       closed_by, now, retention seconds
_CLOSE = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status ~= ARGV[2] or (redis.call('HGET', KEYS[1], 'agent') or '') ~= ARGV[3] then
  return 'changed'
end
local now = tonumber(ARGV[8])
redis.call('HSET', KEYS[1], 'status', ARGV[4], 'resolution', ARGV[5], 'notes', ARGV[6],
           'closed_by', ARGV[7], 'closed_at', ARGV[8])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
if redis.call('GET', KEYS[5]) == ARGV[1] then redis.call('DEL', KEYS[5]) end
local claimed = redis.call('HGET', KEYS[1], 'claimed_at')
if claimed and claimed ~= '' then
  redis.call('ZADD', KEYS[10], now, string.format('%.3f', now - tonumber(claimed)) .. ':' .. ARGV[1])
end
if ARGV[4] == 'resolved' then redis.call('ZADD', KEYS[11], now, ARGV[1]) end
local keep = tonumber(ARGV[9])
redis.call('EXPIRE', KEYS[1], keep)
redis.call('EXPIRE', KEYS[6], keep)
redis.call('EXPIRE', KEYS[7], keep)
for i = 8, 12 do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - keep) end
return 'ok'
"""
# KEYS: conv, stats:csat. ARGV: id, score, now
_CSAT = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status ~= 'resolved' and status ~= 'closed' then return 'open' end
if redis.call('HSETNX', KEYS[1], 'csat', ARGV[2]) == 0 then return 'rated' end
redis.call('HSET', KEYS[1], 'csat_at', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2] .. ':' .. ARGV[1])
return 'ok'
"""
# KEYS: conv, messages. ARGV: entry, field, now, max entries
_MESSAGE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[4]), -1)
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
local ttl = redis.call('TTL', KEYS[1])
if ttl > 0 then redis.call('EXPIRE', KEYS[2], ttl) end
return 1
"""


@dataclass
class Conversation:
    id: str
    status: str
    channel: str
    sender_id: str
    reason: str
    priority: int
    summary: str = ""
    customer_name: str = ""
    customer_phone: str = ""
    customer_contract: str = ""
    protocol: str = ""
    created_at: float = 0.0
    claimed_at: Optional[float] = None
    closed_at: Optional[float] = None
    agent: Optional[str] = None
    resolution: str = ""
    notes: str = ""
    closed_by: str = ""
    csat: Optional[int] = None
    csat_at: Optional[float] = None
    last_customer_message_at: Optional[float] = None
    last_agent_message_at: Optional[float] = None
    transfers: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)

    def event_view(self) -> Dict[str, Any]:
        """What a desk event may carry: no phone, contract or sender id
        (``wa:<phone>``); the API serves those to agents allowed to see them."""
        return {
            "id": self.id, "status": self.status, "channel": self.channel,
            "agent": self.agent, "priority": self.priority, "reason": self.reason,
            "customer_name": self.customer_name, "created_at": self.created_at,
            "claimed_at": self.claimed_at, "closed_at": self.closed_at,
        }

    @classmethod
    def from_hash(cls, data: Dict[str, str], transfers: List[str]) -> "Conversation":
        def number(name: str) -> Optional[float]:
            return float(data[name]) if data.get(name) else None

        return cls(
            id=data["id"], status=data["status"], channel=data.get("channel", ""),
            sender_id=data.get("sender_id", ""), reason=data.get("reason", ""),
            priority=int(data.get("priority") or 0), summary=data.get("summary", ""),
            customer_name=data.get("customer_name", ""),
            customer_phone=data.get("customer_phone", ""),
            customer_contract=data.get("customer_contract", ""),
            protocol=data.get("protocol", ""),
            created_at=float(data.get("created_at") or 0),
            claimed_at=number("claimed_at"), closed_at=number("closed_at"),
            agent=data.get("agent") or None, resolution=data.get("resolution", ""),
            notes=data.get("notes", ""), closed_by=data.get("closed_by", ""),
            csat=int(data["csat"]) if data.get("csat") else None, csat_at=number("csat_at"),
            last_customer_message_at=number("last_customer_message_at"),
            last_agent_message_at=number("last_agent_message_at"),
            transfers=[json.loads(item) for item in transfers],
        )


@dataclass(frozen=True)
class QueueStatus:
    """What the customer is told: position (1 = next) and the estimated wait.

    ``estimated_wait_seconds`` is None when no agent is online.
    """

    position: int
    queue_size: int
    agents_online: int
    estimated_wait_seconds: Optional[int]


def can_access(agent: Agent, conversation: Conversation) -> bool:
    """Atendentes: conversations in the queue or assigned to them; others: all."""
    if agent.sees_everything:
        return True
    return conversation.status == QUEUE or conversation.agent == agent.username


def require_access(agent: Agent, conversation: Conversation) -> None:
    if not can_access(agent, conversation):
        raise Forbidden(f"conversation {conversation.id} is assigned to another agent")


def estimate_wait(position: int, agents_online: int, idle_agents: int,
                  handling_seconds: float) -> Optional[int]:
    """Seconds until an agent takes the ``position``-th conversation in the queue.

    The first ``idle_agents`` conversations can be claimed now (0 s); each one
    further back waits for an agent to finish, and ``agents_online`` agents
    finish one conversation every ``handling_seconds / agents_online`` seconds:
    ``max(0, position - idle) * handling / online``. None with nobody online.
    """
    if agents_online <= 0:
        return None
    return round(max(0, position - idle_agents) * handling_seconds / agents_online)


def _text(name: str, value: Any, maximum: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(name, "must be a string")
    value = value.strip()
    if required and not value:
        raise InvalidInput(name, "is required")
    if len(value) > maximum:
        raise InvalidInput(name, f"at most {maximum} characters")
    return value


def _priority(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not (
        PRIORITY_MIN <= value <= PRIORITY_MAX
    ):
        raise InvalidInput("priority", f"an integer from {PRIORITY_MIN} to {PRIORITY_MAX}")
    return value


def queue_score(priority: int, created_at: float) -> float:
    """Lower first: priority dominates, creation time (ms) breaks ties."""
    return -priority * 1e13 + int(created_at * 1000)


class Conversations:
    """The desk's conversations; ``events`` (optional) publishes every change."""

    def __init__(self, redis, users: Users, events: Optional[DeskEvents] = None,
                 keys: Optional[Keys] = None, settings: Optional[DeskSettings] = None):
        self.redis = redis
        self.users = users
        self.events = events
        self.keys = keys or users.keys
        settings = settings or desk_settings()
        self.retention = settings.retention_days * 24 * 3600
        self.default_handling = settings.default_handling_seconds
        self._open = redis.register_script(_OPEN)
        self._claim = redis.register_script(_CLAIM)
        self._transfer = redis.register_script(_TRANSFER)
        self._close = redis.register_script(_CLOSE)
        self._csat = redis.register_script(_CSAT)
        self._message = redis.register_script(_MESSAGE)

    def _conv(self, conversation_id: str, *rest: str) -> str:
        return self.keys("conv", conversation_id, *rest)

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
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self._conv(conversation_id))
        pipe.lrange(self._conv(conversation_id, "transfers"), 0, -1)
        data, transfers = await pipe.execute()
        return Conversation.from_hash(data, transfers) if data else None

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
        results = await pipe.execute()
        return [
            Conversation.from_hash(data, transfers)
            for data, transfers in zip(results[::2], results[1::2]) if data
        ]

    async def find_open(self, sender_id: str) -> Optional[Conversation]:
        """The sender's conversation in the queue or with an agent, if any."""
        conversation_id = await self.redis.get(self.keys("open", sender_id))
        return await self.get(conversation_id) if conversation_id else None

    async def queue(self, limit: int = 100) -> List[Conversation]:
        """Waiting conversations in the order agents should take them."""
        return await self._load(await self.redis.zrange(self.keys("queue"), 0, limit - 1))

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

    async def _scan_all(self, since: Optional[float], until: Optional[float]):
        """Every conversation created in [since, until), newest first, in pages."""
        high = f"({until}" if until is not None else "+inf"
        low = since if since is not None else "-inf"
        offset, page = 0, 500
        loaded: List[Conversation] = []
        while True:
            ids = await self.redis.zrevrangebyscore(self.keys("all"), high, low,
                                                    start=offset, num=page)
            loaded += await self._load(ids)
            if len(ids) < page or len(loaded) >= 5000:
                return loaded
            offset += page

    async def position(self, conversation_id: str) -> Optional[int]:
        """1 for the next conversation to be taken; None when not queued."""
        rank = await self.redis.zrank(self.keys("queue"), conversation_id)
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
        position = await self.position(conversation_id)
        if position is None:
            return None
        online = await self.users.online(now)
        pipe = self.redis.pipeline(transaction=False)
        for username in online:
            pipe.scard(self.agent_set_key(username))
        pipe.zcard(self.keys("queue"))
        *loads, size = await pipe.execute()
        idle = sum(1 for load in loads if load == 0)
        wait = estimate_wait(position, len(online), idle, await self.average_handling())
        return QueueStatus(position, size, len(online), wait)

    async def set_protocol(self, conversation_id: str, protocol: str) -> None:
        """The protocol given to the customer (ERP ticket or desk number)."""
        protocol = _text("protocol", protocol, 64, required=True)
        await self.redis.hset(self._conv(conversation_id), "protocol", protocol)

    async def next_protocol(self, now: Optional[float] = None) -> str:
        """A desk protocol number, ``YYYYMMDD`` (Sao Paulo) + a 6-digit daily
        sequence, for customers the ERP does not know (SAC rules ask one per demand)."""
        day = datetime.fromtimestamp(time.time() if now is None else now,
                                     SAO_PAULO).strftime("%Y%m%d")
        key = self.keys("protocol", day)
        pipe = self.redis.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, 3 * 24 * 3600)
        sequence, _ = await pipe.execute()
        return f"{day}{sequence:06d}"

    async def agent_load(self, username: str) -> int:
        """How many conversations the agent has in progress."""
        return await self.redis.scard(self.agent_set_key(username))

    # -- changing ----------------------------------------------------------
    async def open(self, channel: str, sender_id: str, reason: str, priority: int = 0,
                   summary: str = "", customer_name: str = "", customer_phone: str = "",
                   customer_contract: str = "", protocol: str = "",
                   now: Optional[float] = None) -> tuple[Conversation, bool]:
        """Queue the sender, or return their conversation already open.

        Returns ``(conversation, created)``: a second handoff request of the
        same customer never makes a second ticket.
        """
        fields = {
            "channel": _text("channel", channel, 64, required=True),
            "sender_id": _text("sender_id", sender_id, 256, required=True),
            "reason": _text("reason", reason, 200, required=True),
            "priority": str(_priority(priority)),
            "summary": _text("summary", summary, 4000),
            "customer_name": _text("customer_name", customer_name, 120),
            "customer_phone": _text("customer_phone", customer_phone, 40),
            "customer_contract": _text("customer_contract", customer_contract, 120),
            "protocol": _text("protocol", protocol, 64),
        }
        now = time.time() if now is None else now
        conversation_id = uuid.uuid4().hex[:16]
        fields.update(id=conversation_id, status=QUEUE, created_at=repr(now))
        flat = [item for pair in fields.items() for item in pair]
        found_id, created = await self._open(
            keys=[self.keys("open", fields["sender_id"]), self._conv(conversation_id),
                  self.keys("queue"), self.keys("all")],
            args=[conversation_id, queue_score(priority, now), repr(now), *flat],
        )
        conversation = await self.require(found_id)
        if created:
            await self._queue_changed(conversation)
        return conversation, bool(created)

    async def claim(self, conversation_id: str, agent: Agent,
                    now: Optional[float] = None) -> Conversation:
        """Take a queued conversation; :class:`AlreadyClaimed` when someone was faster.

        Claiming again what one already holds returns it (a retried request).
        """
        if agent.disabled:
            raise Forbidden(f"agent {agent.username} is disabled")
        now = time.time() if now is None else now
        outcome, holder = await self._claim(
            keys=[self._conv(conversation_id), self.keys("queue"), self.keys("active"),
                  self.agent_set_key(agent.username), self.keys("stats", "wait")],
            args=[conversation_id, agent.username, repr(now)],
        )
        if outcome == "missing":
            raise NotFound(f"conversation {conversation_id!r} does not exist", "conversation_id")
        if outcome == IN_PROGRESS and holder == agent.username:
            return await self.require(conversation_id)
        if outcome != "ok":
            raise AlreadyClaimed(conversation_id, outcome, holder or None)
        conversation = await self.require(conversation_id)
        await self._publish("conversation_assigned", conversation, agent=agent.username,
                            previous_status=QUEUE)
        await self._queue_changed(conversation)
        return conversation

    async def transfer(self, conversation_id: str, actor: Agent, to_username: str,
                       reason: str, now: Optional[float] = None) -> Conversation:
        """Hand an in-progress conversation to another enabled agent, with a reason."""
        reason = _text("reason", reason, 500, required=True)
        conversation = await self.require(conversation_id)
        require_access(actor, conversation)
        if conversation.status != IN_PROGRESS:
            raise Conflict(f"only a conversation in progress can be transferred "
                           f"(this one is {conversation.status})")
        target = await self.users.get(to_username)
        if target is None or target.disabled:
            raise InvalidInput("to", f"no enabled agent named {to_username!r}")
        if target.username == conversation.agent:
            raise InvalidInput("to", f"the conversation is already with {target.username}")
        now = time.time() if now is None else now
        entry = json.dumps({"from": conversation.agent, "to": target.username,
                            "reason": reason, "by": actor.username, "at": now})
        outcome = await self._transfer(
            keys=[self._conv(conversation_id), self._conv(conversation_id, "transfers"),
                  self.agent_set_key(conversation.agent), self.agent_set_key(target.username)],
            args=[conversation_id, conversation.agent or "", target.username, entry],
        )
        if outcome != "ok":
            raise Conflict(f"conversation {conversation_id} changed meanwhile; reload it")
        conversation = await self.require(conversation_id)
        await self._publish("conversation_assigned", conversation, agent=target.username,
                            previous_agent=conversation.transfers[-1]["from"], reason=reason)
        return conversation

    async def close(self, conversation_id: str, actor: Agent, resolution: str,
                    notes: str = "", resolved: bool = True,
                    now: Optional[float] = None) -> Conversation:
        """End a conversation as ``resolved`` (or ``closed`` when not resolved).

        Atendentes close their own conversations; supervisors and admins any
        open one, queued ones included.
        """
        resolution = _text("resolution", resolution, 200, required=True)
        notes = _text("notes", notes, 4000)
        conversation = await self.require(conversation_id)
        require_access(actor, conversation)
        if conversation.status == QUEUE and not actor.sees_everything:
            raise Forbidden("claim the conversation before closing it")
        status = RESOLVED if resolved else CLOSED
        return await self._finish(conversation, status, resolution, notes, actor.username, now)

    async def cancel(self, sender_id: str, now: Optional[float] = None) -> Optional[Conversation]:
        """The customer left the queue (or the agent's chat): back to the bot.

        Returns the closed conversation, or None when the sender had none open.
        """
        for _ in range(3):  # the conversation may be claimed meanwhile: re-read
            conversation = await self.find_open(sender_id)
            if conversation is None:
                return None
            try:
                return await self._finish(conversation, CLOSED, CUSTOMER_CANCELLED, "",
                                          "customer", now)
            except Conflict:
                continue
        raise Conflict(f"the conversation of {sender_id!r} keeps changing; try again")

    async def _finish(self, conversation: Conversation, status: str, resolution: str,
                      notes: str, closed_by: str, now: Optional[float]) -> Conversation:
        if not conversation.is_open:
            raise Conflict(f"conversation {conversation.id} is already {conversation.status}")
        now = time.time() if now is None else now
        cid = conversation.id
        outcome = await self._close(
            keys=[self._conv(cid), self.keys("queue"), self.keys("active"),
                  self.agent_set_key(conversation.agent), self.keys("open", conversation.sender_id),
                  self._conv(cid, "transfers"), self._conv(cid, "messages"), self.keys("all"),
                  self.keys("stats", "wait"), self.keys("stats", "handling"),
                  self.keys("stats", "resolved"), self.keys("stats", "csat")],
            args=[cid, conversation.status, conversation.agent or "", status, resolution,
                  notes, closed_by, repr(now), self.retention],
        )
        if outcome == "missing":
            raise NotFound(f"conversation {cid!r} does not exist", "conversation_id")
        if outcome != "ok":
            raise Conflict(f"conversation {cid} changed meanwhile; reload it")
        closed = await self.require(cid)
        await self._publish("conversation_closed", closed, previous_status=conversation.status)
        if conversation.status == QUEUE:
            await self._queue_changed(closed)
        return closed

    async def rate(self, conversation_id: str, score: Any,
                   now: Optional[float] = None) -> Conversation:
        """Store the customer's CSAT (1-5) once, after the conversation ended."""
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise InvalidInput("score", "an integer from 1 to 5")
        now = time.time() if now is None else now
        outcome = await self._csat(
            keys=[self._conv(conversation_id), self.keys("stats", "csat")],
            args=[conversation_id, score, repr(now)],
        )
        if outcome == "missing":
            raise NotFound(f"conversation {conversation_id!r} does not exist", "conversation_id")
        if outcome == "open":
            raise Conflict(f"conversation {conversation_id} is still open")
        if outcome == "rated":
            raise Conflict(f"conversation {conversation_id} was already rated")
        return await self.require(conversation_id)

    async def record_message(self, conversation_id: str, author: str,
                             message_id: Optional[str] = None,
                             now: Optional[float] = None) -> None:
        """Note that the customer or the agent wrote (times for metrics only)."""
        if author not in ("customer", "agent"):
            raise InvalidInput("author", "must be customer or agent")
        now = time.time() if now is None else now
        entry = json.dumps({"author": author, "at": now, "id": message_id})
        stored = await self._message(
            keys=[self._conv(conversation_id), self._conv(conversation_id, "messages")],
            args=[entry, f"last_{author}_message_at", repr(now), 1000],
        )
        if not stored:
            raise NotFound(f"conversation {conversation_id!r} does not exist", "conversation_id")

    async def messages(self, conversation_id: str) -> List[Dict[str, Any]]:
        return [json.loads(item)
                for item in await self.redis.lrange(self._conv(conversation_id, "messages"), 0, -1)]
