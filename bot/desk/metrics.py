"""Dashboard figures of the desk, computed from Redis on demand.

"Today" is the calendar day in America/Sao_Paulo, whatever the server's
time zone. Averages are over today's events: the wait of conversations
claimed today (claim - creation), the handling time of conversations closed
today after a claim (close - claim) and the CSAT scores given today.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Dict, List, Optional, Tuple

from bot.desk.conversations import IN_PROGRESS, Conversations
from bot.desk.departments import Department
from bot.desk.hours import TIMEZONE
from bot.desk.users import OFFLINE, ONLINE, Users


def day_bounds(now: float) -> Tuple[float, float]:
    """Start and end (timestamps) of the Sao Paulo day that ``now`` falls in."""
    start = datetime.fromtimestamp(now, TIMEZONE).replace(hour=0, minute=0, second=0,
                                                          microsecond=0)
    return start.timestamp(), (start + timedelta(days=1)).timestamp()


def _average(members: List[str]) -> Optional[float]:
    values = [float(member.split(":", 1)[0]) for member in members]
    return round(sum(values) / len(values), 1) if values else None


@dataclass(frozen=True)
class DeskMetrics:
    active: int  # conversations in progress with an agent
    in_queue: int
    resolved_today: int
    agents_online: int  # status online and a fresh heartbeat
    agents_away: int
    agents_busy: int  # present (online or away) with a conversation in progress
    average_wait_seconds: Optional[float]
    average_handling_seconds: Optional[float]
    csat_average: Optional[float]
    csat_count: int
    departments: List[Dict[str, object]] = field(default_factory=list)  # per department, see below

    def as_dict(self) -> Dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class AgentStatus:
    username: str
    name: str
    role: str
    status: str  # online / away / offline
    last_seen: Optional[float]
    active_conversations: int

    def as_dict(self) -> Dict[str, object]:
        return asdict(self)


async def agents_status(users: Users, conversations: Conversations,
                        now: Optional[float] = None) -> List[AgentStatus]:
    """Every enabled agent with presence and current load, for the dashboard."""
    now = time.time() if now is None else now
    presence = await users.presence(now)
    agents = [agent for agent in await users.list() if not agent.disabled]
    pipe = conversations.redis.pipeline(transaction=False)
    for agent in agents:
        pipe.scard(conversations.agent_set_key(agent.username))
    loads = await pipe.execute()
    result = []
    for agent, load in zip(agents, loads):
        seen = presence.get(agent.username)
        result.append(AgentStatus(agent.username, agent.name, agent.role,
                                  seen.status if seen else OFFLINE,
                                  seen.last_seen if seen else None, load))
    return result


async def department_metrics(users: Users, conversations: Conversations, departments: List[Department],
                             now: float, first_response_target: int = 300) -> List[Dict[str, object]]:
    """Per department: waiting, in progress, agents online who serve it, the oldest
    wait, and how many open conversations wait past the first-response target
    (the department's, else ``first_response_target``) with no answer yet."""
    active = await conversations.list(status=IN_PROGRESS, limit=10_000)
    online = await users.online_agents(now)
    rows = []
    for department in departments:
        waiting = await conversations.queue(limit=1000, department=department.slug)
        mine = [c for c in active if c.department == department.slug]
        target = department.first_response_seconds or first_response_target
        unanswered = [c for c in waiting + mine if not c.first_agent_message_at]
        rows.append({
            "slug": department.slug, "name": department.name, "in_queue": len(waiting),
            "active": len(mine),
            "agents_online": sum(1 for a in online if a.serves(department.slug)),
            "oldest_wait_seconds": round(now - min(c.created_at for c in waiting)) if waiting else None,
            "first_response_breaches": sum(1 for c in unanswered if now - c.created_at > target),
        })
    return rows


async def desk_metrics(users: Users, conversations: Conversations,
                       now: Optional[float] = None,
                       departments: Optional[List[Department]] = None,
                       first_response_target: int = 300) -> DeskMetrics:
    now = time.time() if now is None else now
    start, end = day_bounds(now)
    key = conversations.keys
    pipe = conversations.redis.pipeline(transaction=False)
    pipe.zcard(key("active"))
    pipe.zcard(key("queue"))
    pipe.zcount(key("stats", "resolved"), start, f"({end}")
    pipe.zrangebyscore(key("stats", "wait"), start, f"({end}")
    pipe.zrangebyscore(key("stats", "handling"), start, f"({end}")
    pipe.zrangebyscore(key("stats", "csat"), start, f"({end}")
    active, in_queue, resolved, waits, handlings, scores = await pipe.execute()
    statuses = await agents_status(users, conversations, now)
    present = [agent for agent in statuses if agent.status != OFFLINE]
    return DeskMetrics(
        active=active,
        in_queue=in_queue,
        resolved_today=resolved,
        agents_online=sum(1 for agent in present if agent.status == ONLINE),
        agents_away=sum(1 for agent in present if agent.status != ONLINE),
        agents_busy=sum(1 for agent in present if agent.active_conversations > 0),
        average_wait_seconds=_average(waits),
        average_handling_seconds=_average(handlings),
        csat_average=_average(scores),
        csat_count=len(scores),
        departments=await department_metrics(users, conversations, departments or [], now, first_response_target),
    )
