"""Desk conversations: the queue, claims, transfers, closing and CSAT, in Redis.

A desk conversation is the part of a customer's chat that a human handles. At
most one is open (``queue`` or ``in_progress``) per ``sender_id``; it ends as
``resolved`` (an agent closed it with a resolution) or ``closed`` (it ended
without one: the customer left the queue, or an agent closed it as not
resolved).

Keys: see :mod:`bot.desk.store`; the Lua scripts: :mod:`bot.desk.lua`.

Every state change is one Lua script that re-checks the state it expects
(status and assigned agent), so two replicas never both win: 20 agents
claiming one conversation at once give one winner and 19 :class:`AlreadyClaimed`.
Open conversations never expire; closed ones are kept ``DESK_RETENTION_DAYS``
(default 90). The scripts use several keys of one prefix, so this needs a
single Redis (or one Cluster hash slot), like Rasa's own Redis stores.
"""
from __future__ import annotations

import json
import time
import uuid
from typing import Any, Dict, List, Optional, Sequence

from bot.desk.errors import AlreadyClaimed, AtCapacity, Conflict, Forbidden, InvalidInput, NotFound
from bot.desk.model import (  # noqa: F401  (re-exported: the desk's public names)
    CLOSED, CUSTOMER_CANCELLED, IN_PROGRESS, OPEN, PRIORITY_MAX, PRIORITY_MIN, QUEUE, RESOLVED,
    STATUSES, Conversation, QueueStatus, can_access, checked_priority, checked_slug, checked_text, estimate_wait,
    queue_score, require_access)
from bot.desk.store import RECENT_HANDLING, ConversationStore  # noqa: F401
from bot.desk.users import Agent
from bot.phones import whatsapp_number



def checked_label(value: Any) -> str:
    return checked_slug("label", value, 30)


class Conversations(ConversationStore):
    """The desk's conversations: open, claim, transfer, close, rate."""

    # -- changing ----------------------------------------------------------
    async def open(self, channel: str, sender_id: str, reason: str, priority: int = 0,
                   summary: str = "", customer_name: str = "", customer_phone: str = "",
                   customer_contract: str = "", protocol: str = "", department: str = "",
                   customer_document: str = "", labels: Sequence[str] = (),
                   now: Optional[float] = None) -> tuple[Conversation, bool]:
        """Queue the sender, or return their conversation already open.

        Returns ``(conversation, created)``: a second handoff request of the
        same customer never makes a second ticket.
        """
        fields = {
            "channel": checked_text("channel", channel, 64, required=True),
            "sender_id": checked_text("sender_id", sender_id, 256, required=True),
            "reason": checked_text("reason", reason, 200, required=True),
            "priority": str(checked_priority(priority)),
            "summary": checked_text("summary", summary, 4000),
            "customer_name": checked_text("customer_name", customer_name, 120),
            "customer_phone": checked_text("customer_phone", customer_phone, 40),
            "customer_contract": checked_text("customer_contract", customer_contract, 120),
            "protocol": checked_text("protocol", protocol, 64),
            "department": checked_text("department", department, 40),
        }
        now = time.time() if now is None else now
        conversation_id = uuid.uuid4().hex[:16]
        fields.update(id=conversation_id, status=QUEUE, created_at=repr(now))
        flat = [item for pair in fields.items() for item in pair]
        found_id, created = await self._open(
            keys=[self.keys("open", fields["sender_id"]), self._conv(conversation_id),
                  self.keys("queue"), self.keys("all"), self.department_queue_key(fields["department"])],
            args=[conversation_id, queue_score(priority, now), repr(now), *flat],
        )
        if created:  # filed for the search: the customer's number and document, the protocol, labels
            await self.index(conversation_id, phone=whatsapp_number(fields["sender_id"]),
                             document=customer_document, protocol=fields["protocol"])
            for label in labels:
                await self._label(conversation_id, checked_label(label))
        conversation = await self.require(found_id)
        if created:
            await self._queue_changed(conversation)
        return conversation, bool(created)

    async def add_label(self, conversation_id: str, actor: Agent, label: Any) -> Conversation:
        """Tag a conversation; searchable by the label."""
        label = checked_label(label)
        require_access(actor, await self.require(conversation_id))
        await self._label(conversation_id, label)
        return await self.require(conversation_id)

    async def _label(self, conversation_id: str, label: str) -> None:
        await self.redis.sadd(self._conv(conversation_id, "labels"), label)
        await self.index(conversation_id, label=label)

    async def remove_label(self, conversation_id: str, actor: Agent, label: Any) -> Conversation:
        label = checked_label(label)
        conversation = await self.require(conversation_id)
        require_access(actor, conversation)
        await self.redis.srem(self._conv(conversation_id, "labels"), label)
        await self.redis.srem(self.index_key("label", label), conversation_id)
        return await self.require(conversation_id)

    async def add_note(self, conversation_id: str, actor: Agent, text: Any,
                       now: Optional[float] = None) -> Dict[str, Any]:
        """A private note for the agents; the customer never sees it."""
        text = checked_text("text", text, 2000, required=True)
        conversation = await self.require(conversation_id)
        require_access(actor, conversation)
        note = {"by": actor.username, "text": text, "at": time.time() if now is None else now}
        key = self._conv(conversation_id, "notes")
        await self.redis.rpush(key, json.dumps(note))
        ttl = await self.redis.ttl(self._conv(conversation_id))
        if ttl > 0:  # closed already: the note goes when the conversation goes
            await self.redis.expire(key, ttl)
        return note

    async def claim(self, conversation_id: str, agent: Agent,
                    now: Optional[float] = None, capacity: Optional[int] = None) -> Conversation:
        """Take a queued conversation; :class:`AlreadyClaimed` when someone was faster.

        Claiming again what one already holds returns it (a retried request).
        ``capacity`` (automatic assignment): :class:`AtCapacity` when the agent
        already holds that many, checked in the same script as the claim.
        """
        if agent.disabled:
            raise Forbidden(f"agent {agent.username} is disabled")
        now = time.time() if now is None else now
        for _ in range(3):  # moved to another department meanwhile: read it again
            found = await self.require(conversation_id)
            if found.status == QUEUE and not agent.serves(found.department):
                raise Forbidden(f"conversation {conversation_id} waits in department {found.department}, "
                                f"which {agent.username} does not serve")
            outcome, holder = await self._claim(
                keys=[self._conv(conversation_id), self.keys("queue"), self.keys("active"),
                      self.agent_set_key(agent.username), self.keys("stats", "wait"),
                      self.department_queue_key(found.department)],
                args=[conversation_id, agent.username, repr(now), found.department,
                      "" if capacity is None else str(capacity)],
            )
            if outcome != "moved":
                break
        if outcome == "full":
            raise AtCapacity(f"{agent.username} already holds {capacity} conversation(s)")
        if outcome == "missing":
            raise NotFound(f"conversation {conversation_id!r} does not exist", "conversation_id")
        if outcome == IN_PROGRESS and holder == agent.username and capacity is None:
            return await self.require(conversation_id)  # a retried request (automatic: someone else's hand-out)
        if outcome != "ok":
            raise AlreadyClaimed(conversation_id, outcome, holder or None)
        conversation = await self.require(conversation_id)
        await self.index(conversation_id, agent=agent.username)
        await self._publish("conversation_assigned", conversation, agent=agent.username,
                            previous_status=QUEUE)
        await self._queue_changed(conversation)
        return conversation

    async def transfer(self, conversation_id: str, actor: Agent, to_username: str,
                       reason: str, note: str = "", now: Optional[float] = None) -> Conversation:
        """Hand an in-progress conversation to another enabled agent, with a reason
        and an internal note (kept in its transfers, never shown to the customer)."""
        reason = checked_text("reason", reason, 500, required=True)
        note = checked_text("note", note, 2000)
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
                            "reason": reason, "note": note, "by": actor.username, "at": now})
        outcome = await self._transfer(
            keys=[self._conv(conversation_id), self._conv(conversation_id, "transfers"),
                  self.agent_set_key(conversation.agent), self.agent_set_key(target.username)],
            args=[conversation_id, conversation.agent or "", target.username, entry],
        )
        if outcome != "ok":
            raise Conflict(f"conversation {conversation_id} changed meanwhile; reload it")
        conversation = await self.require(conversation_id)
        await self.index(conversation_id, agent=target.username)
        await self._publish("conversation_assigned", conversation, agent=target.username,
                            previous_agent=conversation.transfers[-1]["from"], reason=reason)
        return conversation

    async def requeue(self, conversation_id: str, actor: Agent, department: str, reason: str,
                      note: str = "", now: Optional[float] = None) -> Conversation:
        """Back to a queue: ``department``'s (its own to return it, another to transfer
        it there), in its place by original age, with the reason and an internal note
        in its transfers. The holder or a supervisor; a supervisor may also move a
        queued conversation."""
        reason = checked_text("reason", reason, 500, required=True)
        note = checked_text("note", note, 2000)
        conversation = await self.require(conversation_id)
        require_access(actor, conversation)
        if conversation.status == IN_PROGRESS and conversation.agent != actor.username and not actor.sees_everything:
            raise Forbidden(f"conversation {conversation_id} is assigned to another agent")
        if conversation.status == QUEUE and not actor.sees_everything:
            raise Forbidden("claim the conversation before moving it")
        if conversation.status not in (QUEUE, IN_PROGRESS):
            raise Conflict(f"conversation {conversation_id} is {conversation.status}")
        if conversation.status == QUEUE and department == conversation.department:
            raise InvalidInput("department", f"the conversation already waits in {department}")
        now = time.time() if now is None else now
        entry = json.dumps({"from": conversation.agent, "to_department": department, "reason": reason,
                            "note": note, "by": actor.username, "at": now})
        outcome = await self._requeue(
            keys=[self._conv(conversation_id), self.keys("queue"), self.keys("active"),
                  self.agent_set_key(conversation.agent), self.department_queue_key(conversation.department),
                  self.department_queue_key(department), self._conv(conversation_id, "transfers")],
            args=[conversation_id, conversation.status, conversation.agent or "", conversation.department,
                  department, queue_score(conversation.priority, conversation.created_at), entry],
        )
        if outcome == "missing":
            raise NotFound(f"conversation {conversation_id!r} does not exist", "conversation_id")
        if outcome != "ok":
            raise Conflict(f"conversation {conversation_id} changed meanwhile; reload it")
        moved = await self.require(conversation_id)
        if conversation.status == IN_PROGRESS:
            await self._publish("conversation_closed", moved, previous_status=IN_PROGRESS,
                                previous_agent=conversation.agent, requeued=True)
        await self._queue_changed(moved)
        return moved

    async def close(self, conversation_id: str, actor: Agent, resolution: str,
                    notes: str = "", resolved: bool = True,
                    now: Optional[float] = None) -> Conversation:
        """End a conversation as ``resolved`` (or ``closed`` when not resolved).

        Atendentes close their own conversations; supervisors and admins any
        open one, queued ones included.
        """
        resolution = checked_text("resolution", resolution, 200, required=True)
        notes = checked_text("notes", notes, 4000)
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
                  self.keys("stats", "resolved"), self.keys("stats", "csat"),
                  self.department_queue_key(conversation.department),
                  self._conv(cid, "labels"), self._conv(cid, "notes")],
            args=[cid, conversation.status, conversation.agent or "", status, resolution,
                  notes, closed_by, repr(now), self.retention, conversation.department],
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
