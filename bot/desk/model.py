"""A desk conversation as data, and the rules that need no Redis.

Statuses, the :class:`Conversation` record (a Redis hash), who may see it
(:func:`can_access`), the queue order (:func:`queue_score`) and the wait
estimate (:func:`estimate_wait`); field checks shared by the store.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Iterable, List, Optional

from bot.desk.errors import Forbidden, InvalidInput
from bot.desk.users import Agent

QUEUE, IN_PROGRESS, RESOLVED, CLOSED = "queue", "in_progress", "resolved", "closed"
STATUSES = (QUEUE, IN_PROGRESS, RESOLVED, CLOSED)
OPEN = (QUEUE, IN_PROGRESS)
PRIORITY_MIN, PRIORITY_MAX = 0, 100
CUSTOMER_CANCELLED = "cancelled_by_customer"


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
    department: str = ""
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
    first_agent_message_at: Optional[float] = None  # the first response, for the SLA
    transfers: List[Dict[str, Any]] = field(default_factory=list)
    labels: List[str] = field(default_factory=list)  # set by agents and by the bot (bloqueado, queda...)
    internal_notes: List[Dict[str, Any]] = field(default_factory=list)  # {by, text, at}: never to the customer

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)

    def event_view(self) -> Dict[str, Any]:
        """What a desk event may carry: no phone, contract or sender id
        (``wa:<phone>``); the API serves those to agents allowed to see them."""
        return {
            "id": self.id, "status": self.status, "channel": self.channel, "department": self.department,
            "agent": self.agent, "priority": self.priority, "reason": self.reason,
            "customer_name": self.customer_name, "created_at": self.created_at,
            "claimed_at": self.claimed_at, "closed_at": self.closed_at,
        }

    @classmethod
    def from_hash(cls, data: Dict[str, str], transfers: List[str], labels: Iterable[str] = (),
                  notes: Iterable[str] = ()) -> "Conversation":
        def number(name: str) -> Optional[float]:
            return float(data[name]) if data.get(name) else None

        return cls(
            id=data["id"], status=data["status"], channel=data.get("channel", ""),
            sender_id=data.get("sender_id", ""), reason=data.get("reason", ""),
            priority=int(data.get("priority") or 0), summary=data.get("summary", ""),
            customer_name=data.get("customer_name", ""),
            customer_phone=data.get("customer_phone", ""),
            customer_contract=data.get("customer_contract", ""),
            protocol=data.get("protocol", ""), department=data.get("department", ""),
            created_at=float(data.get("created_at") or 0),
            claimed_at=number("claimed_at"), closed_at=number("closed_at"),
            agent=data.get("agent") or None, resolution=data.get("resolution", ""),
            notes=data.get("notes", ""), closed_by=data.get("closed_by", ""),
            csat=int(data["csat"]) if data.get("csat") else None, csat_at=number("csat_at"),
            last_customer_message_at=number("last_customer_message_at"),
            last_agent_message_at=number("last_agent_message_at"),
            first_agent_message_at=number("first_agent_message_at"),
            transfers=[json.loads(item) for item in transfers],
            labels=sorted(labels), internal_notes=[json.loads(item) for item in notes],
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


@dataclass(frozen=True)
class Sla:
    """A conversation against its department's targets (seconds)."""

    first_response_target: int
    resolution_target: int
    first_response_seconds: Optional[float]  # None: nobody answered yet
    resolution_seconds: Optional[float]  # None: still open
    first_response_breached: bool  # answered late, or waiting past the target now
    resolution_breached: bool

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


def sla_of(conversation: Conversation, first_response_target: int, resolution_target: int, now: float) -> Sla:
    first = (conversation.first_agent_message_at - conversation.created_at
             if conversation.first_agent_message_at else None)
    resolved = conversation.closed_at - conversation.created_at if conversation.closed_at else None
    waited = first if first is not None else (None if conversation.closed_at else now - conversation.created_at)
    return Sla(first_response_target, resolution_target,
               None if first is None else round(first, 1), None if resolved is None else round(resolved, 1),
               waited is not None and waited > first_response_target,
               (resolved if resolved is not None else now - conversation.created_at) > resolution_target)


def can_access(agent: Agent, conversation: Conversation) -> bool:
    """Atendentes: the queues of their departments and what is assigned to them; others: all."""
    if agent.sees_everything:
        return True
    return (conversation.status == QUEUE and agent.serves(conversation.department)) \
        or conversation.agent == agent.username


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


def checked_text(name: str, value: Any, maximum: int, required: bool = False) -> str:
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


def checked_slug(name: str, value: Any, longest: int, hint: str = "") -> str:
    """A lowercase name made to sit in keys and URLs (a department, a label, a
    shortcut): 2 to ``longest`` of a-z, 0-9, '_' and '-', starting with a letter or digit."""
    value = value.strip().lower() if isinstance(value, str) else ""
    if not re.fullmatch(rf"[a-z0-9][a-z0-9_-]{{1,{longest - 1}}}", value):
        raise InvalidInput(name, f"2 to {longest} characters: lowercase letters, digits, '_' or '-'{hint}")
    return value


def checked_priority(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not (
        PRIORITY_MIN <= value <= PRIORITY_MAX
    ):
        raise InvalidInput("priority", f"an integer from {PRIORITY_MIN} to {PRIORITY_MAX}")
    return value


def queue_score(priority: int, created_at: float) -> float:
    """Lower first: priority dominates, creation time (ms) breaks ties."""
    return -priority * 1e13 + int(created_at * 1000)
