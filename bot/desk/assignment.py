"""Automatic assignment, and an absent agent's conversations put back in line.

A department whose ``assignment`` is ``auto`` has its waiting conversations
handed out in queue order (priority, then oldest first), each to the online
atendente who is a member of it (lists it in their departments; an agent
listing none claims from every queue by hand but is not auto-assigned) with
the most free capacity (``capacity`` minus the
conversations they hold; ``DESK_DEFAULT_CAPACITY`` unless set on the user);
ties go to whoever got one least recently (round robin). Each hand-out is the
desk's atomic claim with the capacity checked in the same script, so two
assigners never give one conversation twice nor an agent more than their
capacity, and an agent's own claims meanwhile count. Supervisors and admins
are not auto-assigned.

An agent whose heartbeat stopped ``DESK_OFFLINE_GRACE_SECONDS`` ago (and who
claimed before that) gets their conversations put back in their departments'
queues, in their place by age, with the reason: never silently dropped.
"""
from __future__ import annotations

import logging
import time
from typing import Dict, List, Optional, Tuple

from bot.desk.departments import AUTO, Department
from bot.desk.errors import AtCapacity, Conflict, Forbidden, NotFound
from bot.desk.users import ATENDENTE, OFFLINE, SUPERVISOR, Agent

logger = logging.getLogger(__name__)

OFFLINE_REASON = "atendente ficou offline"
MAX_PASSES = 5
SYSTEM = Agent("sistema", "Sistema", SUPERVISOR, False, 0.0, 0.0)  # acts for the desk itself


class Assigner:
    def __init__(self, desk):
        self.desk = desk
        self.default_capacity = desk.settings.default_capacity
        self.grace = desk.settings.offline_grace_seconds
        self.assigned_at_key = desk.keys("assigned_at")  # username -> last hand-out, for round robin

    def capacity(self, agent: Agent) -> int:
        return agent.capacity or self.default_capacity

    async def round(self, now: Optional[float] = None) -> Tuple[int, int]:
        """One pass over every department; (conversations assigned, conversations put back)."""
        now = time.time() if now is None else now
        returned = await self.return_absent(now)
        departments = [d for d in await self.desk.departments.list() if d.assignment == AUTO]
        if not departments:
            return 0, returned
        staff = [a for a in await self.desk.users.online_agents(now) if a.role == ATENDENTE]
        if not staff:
            return 0, returned
        redis = self.desk.conversations.redis
        pipe = redis.pipeline(transaction=False)
        for agent in staff:
            pipe.scard(self.desk.conversations.agent_set_key(agent.username))
        loads = dict(zip((a.username for a in staff), await pipe.execute()))
        last = {name: float(at) for name, at in (await redis.hgetall(self.assigned_at_key)).items()}
        assigned = 0
        for department in departments:
            assigned += await self.fill(department, staff, loads, last, now)
        return assigned, returned

    async def fill(self, department: Department, staff: List[Agent], loads: Dict[str, int],
                   last: Dict[str, float], now: float) -> int:
        team = [a for a in staff if department.slug in a.departments]  # its members, not everyone
        if not team:
            return 0
        assigned = 0
        for _ in range(MAX_PASSES):  # read the queue again when others took some of what we saw
            free = sum(max(0, self.capacity(a) - loads[a.username]) for a in team)
            waiting = await self.desk.conversations.queue(limit=free, department=department.slug) if free else []
            lost = 0
            for conversation in waiting:
                outcome = await self.hand_out(conversation.id, team, loads, last, now)
                if outcome is None:  # nobody has room left
                    return assigned
                assigned += outcome
                lost += 1 - outcome
            if not lost:
                break
        return assigned

    async def hand_out(self, conversation_id: str, team: List[Agent], loads: Dict[str, int],
                       last: Dict[str, float], now: float) -> Optional[int]:
        """1 when given to the best agent, 0 when taken by someone else meanwhile,
        None when no agent has room."""
        while True:
            candidates = [a for a in team if loads[a.username] < self.capacity(a)]
            if not candidates:
                return None
            best = max(candidates, key=lambda a: (self.capacity(a) - loads[a.username], -last.get(a.username, 0.0)))
            try:
                await self.desk.conversations.claim(conversation_id, best, now, capacity=self.capacity(best))
            except AtCapacity:  # got one meanwhile (by hand, or another assigner): the next agent
                loads[best.username] = self.capacity(best)
                continue
            except (Conflict, Forbidden, NotFound):  # taken, moved or gone meanwhile
                return 0
            loads[best.username] += 1
            last[best.username] = now
            await self.desk.conversations.redis.hset(self.assigned_at_key, best.username, repr(now))
            return 1

    async def return_absent(self, now: float) -> int:
        """Put back the conversations of agents offline for longer than the grace period."""
        presence = await self.desk.users.presence(now)
        absent = [name for name, seen in presence.items()
                  if seen.status == OFFLINE and (seen.last_seen or 0) <= now - self.grace]
        pipe = self.desk.conversations.redis.pipeline(transaction=False)
        for username in absent:
            pipe.scard(self.desk.conversations.agent_set_key(username))
        holding = [name for name, load in zip(absent, await pipe.execute()) if load]
        returned = 0
        for username in holding:
            for conversation in await self.desk.conversations.list(status="in_progress", agent=username,
                                                                    limit=1000):
                if (conversation.claimed_at or 0) > now - self.grace:
                    continue  # claimed (by hand, without a console) within the grace period
                try:
                    await self.desk.conversations.requeue(
                        conversation.id, SYSTEM, conversation.department, OFFLINE_REASON, now=now)
                    returned += 1
                    logger.info("desk: conversation %s back in the queue: %s offline", conversation.id, username)
                except (Conflict, NotFound):
                    continue
        return returned
