"""Canned replies (respostas rapidas): texts an agent inserts with ``/shortcut``.

Each reply has a shortcut, a text that may use the variables ``{nome}`` (the
customer's first name), ``{protocolo}`` (the conversation's protocol) and
``{atendente}`` (the agent's name), filled by the console when it expands
the shortcut, and a scope: ``personal`` (its author's), a ``department``'s or
``global``. Supervisors and admins write department and global ones; every
agent writes personal ones. An agent sees the global ones, those of the
departments they serve and their own; a personal shortcut hides a department
one of the same name, which hides a global one.

Stored as one Redis hash ``desk:canned`` (id -> JSON): a desk has hundreds,
read whole.
"""
from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional

from bot.desk.errors import Conflict, Forbidden, InvalidInput, NotFound
from bot.desk.keys import Keys
from bot.desk.model import checked_slug
from bot.desk.users import Agent

PERSONAL, DEPARTMENT, GLOBAL = "personal", "department", "global"
SCOPES = (PERSONAL, DEPARTMENT, GLOBAL)
VARIABLES = ("nome", "protocolo", "atendente")
TEXT_MAX = 4096


@dataclass(frozen=True)
class CannedReply:
    id: str
    shortcut: str
    text: str
    scope: str
    owner: str  # the author (personal) or the department's slug; "" for global
    updated_by: str
    updated_at: float

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


def checked_shortcut(value: Any) -> str:
    value = value.strip().lstrip("/") if isinstance(value, str) else value
    return checked_slug("shortcut", value, 30, " (typed as /shortcut)")


def checked_text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("text", "is required")
    if len(value) > TEXT_MAX:
        raise InvalidInput("text", f"at most {TEXT_MAX} characters")
    unknown = sorted(set(re.findall(r"\{(\w+)\}", value)) - set(VARIABLES))
    if unknown:
        raise InvalidInput("text", f"unknown variable {{{unknown[0]}}}: use {', '.join('{' + v + '}' for v in VARIABLES)}")
    return value.strip()


class CannedReplies:
    def __init__(self, redis, keys: Keys):
        self.redis = redis
        self.key = keys("canned")

    async def _all(self) -> List[CannedReply]:
        return [CannedReply(**json.loads(raw)) for raw in (await self.redis.hgetall(self.key)).values()]

    async def visible_to(self, agent: Agent) -> List[CannedReply]:
        """What ``agent`` may use, one per shortcut (personal over department over global)."""
        rank = {PERSONAL: 0, DEPARTMENT: 1, GLOBAL: 2}
        usable = [r for r in await self._all() if self._usable(agent, r)]
        chosen: Dict[str, CannedReply] = {}
        for reply in sorted(usable, key=lambda r: (rank[r.scope], r.owner)):
            chosen.setdefault(reply.shortcut, reply)
        return sorted(chosen.values(), key=lambda r: r.shortcut)

    @staticmethod
    def _usable(agent: Agent, reply: CannedReply) -> bool:
        if reply.scope == PERSONAL:
            return reply.owner == agent.username
        if reply.scope == DEPARTMENT:
            return agent.serves(reply.owner)
        return True

    @staticmethod
    def _may_write(agent: Agent, scope: str, owner: str) -> bool:
        return owner == agent.username if scope == PERSONAL else agent.sees_everything

    async def create(self, agent: Agent, shortcut: Any, text: Any, scope: Any = PERSONAL,
                     department: Optional[str] = None) -> CannedReply:
        """``department``: a slug the caller checked exists (scope department)."""
        if scope not in SCOPES:
            raise InvalidInput("scope", f"must be one of {', '.join(SCOPES)}")
        if scope == DEPARTMENT and not department:
            raise InvalidInput("department", "required for a department's reply")
        owner = {PERSONAL: agent.username, DEPARTMENT: department or "", GLOBAL: ""}[scope]
        if not self._may_write(agent, scope, owner):
            raise Forbidden("department and global replies are written by supervisors and admins")
        reply = CannedReply(uuid.uuid4().hex[:12], checked_shortcut(shortcut), checked_text(text), scope, owner,
                            agent.username, time.time())
        await self._refuse_taken(reply)
        await self.redis.hset(self.key, reply.id, json.dumps(reply.as_dict()))
        return reply

    async def _refuse_taken(self, reply: CannedReply) -> None:
        """409 when another reply of the same scope and owner has the shortcut."""
        if any(r.id != reply.id and r.shortcut == reply.shortcut and r.scope == reply.scope and r.owner == reply.owner
               for r in await self._all()):
            raise Conflict(f"/{reply.shortcut} already exists there", "shortcut")

    async def _owned(self, agent: Agent, reply_id: str) -> CannedReply:
        raw = await self.redis.hget(self.key, reply_id) if isinstance(reply_id, str) and reply_id else None
        if raw is None:
            raise NotFound(f"canned reply {reply_id!r} does not exist", "id")
        reply = CannedReply(**json.loads(raw))
        if not self._may_write(agent, reply.scope, reply.owner):
            raise Forbidden("not yours to change")
        return reply

    async def update(self, agent: Agent, reply_id: str, shortcut: Any = None, text: Any = None) -> CannedReply:
        reply = await self._owned(agent, reply_id)
        changed = CannedReply(reply.id, reply.shortcut if shortcut is None else checked_shortcut(shortcut),
                              reply.text if text is None else checked_text(text), reply.scope, reply.owner,
                              agent.username, time.time())
        await self._refuse_taken(changed)
        await self.redis.hset(self.key, reply.id, json.dumps(changed.as_dict()))
        return changed

    async def delete(self, agent: Agent, reply_id: str) -> None:
        await self._owned(agent, reply_id)
        await self.redis.hdel(self.key, reply_id)
