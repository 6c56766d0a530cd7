"""Conversations and the queue: list, read (with the transcript), claim,
write to the customer, transfer, close."""
from __future__ import annotations

import logging
import time

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.desk import Desk
from bot.desk import handoff as texts
from bot.desk.conversations import STATUSES, can_access
from bot.desk.errors import InvalidInput
from bot.llm.responder import Responder
from bot.outreach.window import CustomerWindows
from bot.pii import mask_pii
from bot.phones import whatsapp_number
from bot.redis_pool import get_redis
from channels.desk.common import (conversation_for, conversation_view, current_agent, json_body, whole_arg,
                                  send_agent_message, sla_targets, time_arg)
from channels.common.errors import UNAVAILABLE_ERRORS
from channels.desk.delivery import CustomerLine, Undeliverable
from channels.desk.transcript import iso, transcript

logger = logging.getLogger(__name__)


async def list_conversations(request: Request) -> HTTPResponse:
    agent = await current_agent(request)
    status = request.args.get("status") or None
    if status is not None and status not in STATUSES:
        raise InvalidInput("status", f"must be one of {', '.join(STATUSES)}")
    items = await Desk.shared().conversations.list(
        status=status, channel=request.args.get("channel") or None,
        agent=request.args.get("agent") or None,
        since=time_arg(request, "since"), until=time_arg(request, "until"), limit=500)
    visible = [conversation_view(c) for c in items if can_access(agent, c)]
    return response.json({"conversations": visible})


async def get_conversation(request: Request, conversation_id: str) -> HTTPResponse:
    agent = await current_agent(request)
    conversation = await conversation_for(agent, conversation_id)
    position = await Desk.shared().conversations.position(conversation.id)
    view = conversation_view(conversation, position, targets=await sla_targets())
    number = whatsapp_number(conversation.sender_id)
    if number:  # Meta's 24-hour window: the console counts it down, templates only once closed
        left = await CustomerWindows(get_redis()).seconds_left(number)
        view["whatsapp_window"] = {"open": left > 0, "seconds_left": left}
    return response.json({
        "conversation": view,
        "transcript": await transcript(request.app, conversation),
    })


async def claim(request: Request, conversation_id: str) -> HTTPResponse:
    agent = await current_agent(request)
    conversation = await Desk.shared().conversations.claim(conversation_id, agent)
    return response.json({"conversation": conversation_view(conversation)})


async def post_message(request: Request, conversation_id: str) -> HTTPResponse:
    agent = await current_agent(request)
    data = json_body(request, ("text",))
    message = await send_agent_message(request.app, agent, conversation_id, data.get("text"))
    return response.json({"message": message}, status=201)


async def transfer(request: Request, conversation_id: str) -> HTTPResponse:
    """To a named agent (``to``, or ``to_agent_id`` as in the original API) or to a
    department's queue (``department``: its own to give it back), with a reason and
    an internal ``note`` for whoever takes it next."""
    agent = await current_agent(request)
    data = json_body(request, ("to", "to_agent_id", "department", "reason", "note"))
    desk = Desk.shared()
    to = data.get("to", data.get("to_agent_id"))
    if ("to" in data) + ("to_agent_id" in data) + ("department" in data) != 1:
        raise InvalidInput("to", "give one of to (an agent's username) or department")
    if "department" in data:
        department = await desk.departments.require(data["department"])
        conversation = await desk.conversations.requeue(
            conversation_id, agent, department.slug, data.get("reason"), data.get("note") or "")
        await tell_department(request, conversation, department.name)
    else:
        field = "to" if "to" in data else "to_agent_id"
        if not isinstance(to, str) or not to.strip():
            raise InvalidInput(field, "the username of the agent to transfer to")
        conversation = await desk.conversations.transfer(
            conversation_id, agent, to.strip().lower(), data.get("reason"), data.get("note") or "")
    return response.json({"conversation": conversation_view(conversation)})


async def tell_department(request: Request, conversation, name: str) -> None:
    """The customer hears where they wait now (best effort: the move is done)."""
    try:
        status = await Desk.shared().conversations.queue_status(conversation.id)
        position = status.position if status else 1
        await CustomerLine(request.app).say(conversation, texts.moved_text(name, position))
    except (Undeliverable, *UNAVAILABLE_ERRORS) as error:  # a channel that cannot write first; Redis down
        logger.warning("desk: the customer of %s was not told of the move: %s", conversation.id, error)


async def close(request: Request, conversation_id: str) -> HTTPResponse:
    agent = await current_agent(request)
    data = json_body(request, ("resolution", "notes", "resolved"))
    resolved = data.get("resolved", True)
    if not isinstance(resolved, bool):
        raise InvalidInput("resolved", "must be true or false")
    closed = await Desk.shared().conversations.close(
        conversation_id, agent, data.get("resolution"), data.get("notes") or "", resolved)
    await CustomerLine(request.app).resume(closed, texts.CLOSED_BY_AGENT_TEXT,
                                           ask_csat=closed.claimed_at is not None)
    return response.json({"conversation": conversation_view(closed)})


async def queue(request: Request) -> HTTPResponse:
    """Waiting conversations the agent serves (``?department=`` for one queue);
    ``position`` counts within each conversation's department."""
    agent = await current_agent(request)
    now = time.time()
    department = request.args.get("department") or None
    if department is not None:
        await Desk.shared().departments.require(department)
    waiting = await Desk.shared().conversations.queue(limit=1000, department=department)
    positions: dict = {}
    views = []
    targets = await sla_targets()
    for conversation in waiting:
        positions[conversation.department] = positions.get(conversation.department, 0) + 1
        if can_access(agent, conversation):
            views.append(conversation_view(conversation, positions[conversation.department], now, targets))
    return response.json({"queue": views})


async def add_label(request: Request, conversation_id: str) -> HTTPResponse:
    agent = await current_agent(request)
    data = json_body(request, ("label",))
    conversation = await Desk.shared().conversations.add_label(conversation_id, agent, data.get("label"))
    return response.json({"conversation": conversation_view(conversation)})


async def remove_label(request: Request, conversation_id: str, label: str) -> HTTPResponse:
    agent = await current_agent(request)
    conversation = await Desk.shared().conversations.remove_label(conversation_id, agent, label)
    return response.json({"conversation": conversation_view(conversation)})


async def add_note(request: Request, conversation_id: str) -> HTTPResponse:
    agent = await current_agent(request)
    data = json_body(request, ("text",))
    note = await Desk.shared().conversations.add_note(conversation_id, agent, data.get("text"))
    return response.json({"note": dict(note, at=iso(note["at"]))}, status=201)


async def suggestion(request: Request, conversation_id: str) -> HTTPResponse:
    """Agent assist: a reply to the customer's last message, from the knowledge
    base (and the LLM when configured), for the agent to edit and send. Nothing
    reaches the customer from here; customer data in it is masked."""
    agent = await current_agent(request)
    conversation = await conversation_for(agent, conversation_id)
    said = [m["text"] for m in await transcript(request.app, conversation) if m["author"] == "customer" and m["text"]]
    if not said:
        raise InvalidInput("conversation_id", "the customer has not written anything to answer yet")
    reply = await Responder.shared().answer(said[-1])
    return response.json({"suggestion": {
        "text": mask_pii(reply.text) if reply.text else None, "source": reply.source,
        "answering": mask_pii(said[-1])[:500],
        "passages": [{"ref": hit.passage.ref, "heading": hit.passage.heading, "score": round(hit.score, 3)}
                     for hit in reply.hits[:3]]}})


SEARCH_FILTERS = ("document", "phone", "protocol", "label", "agent", "status", "since", "until", "page", "limit")


async def search(request: Request) -> HTTPResponse:
    """Closed and open conversations by customer document or phone, protocol,
    label, agent and creation date; an atendente finds only what they handled."""
    agent = await current_agent(request)
    unknown = sorted(set(request.args) - set(SEARCH_FILTERS))
    if unknown:
        raise InvalidInput(unknown[0], f"not a filter; use {', '.join(SEARCH_FILTERS)}")
    status = request.args.get("status") or None
    if status is not None and status not in STATUSES:
        raise InvalidInput("status", f"must be one of {', '.join(STATUSES)}")
    text = {name: (request.args.get(name) or "").strip() or None
            for name in ("document", "phone", "protocol", "label", "agent")}
    for name, value in text.items():
        if value is not None and len(value) > 64:
            raise InvalidInput(name, "at most 64 characters")
    page = whole_arg(request, "page", 1, 1, 10 ** 6)
    limit = whole_arg(request, "limit", 50, 1, 200)
    found = await Desk.shared().conversations.search(
        status=status, since=time_arg(request, "since"), until=time_arg(request, "until"), **text)
    visible = [c for c in found if can_access(agent, c)]
    targets = await sla_targets()
    return response.json({"conversations": [conversation_view(c, targets=targets)
                                            for c in visible[(page - 1) * limit: page * limit]],
                          "total": len(visible), "page": page, "limit": limit})


def register(bp: Blueprint, api: str) -> None:
    one = f"{api}/conversations/<conversation_id>"
    bp.add_route(search, f"{api}/search", methods=["GET"])
    bp.add_route(add_label, f"{one}/labels", methods=["POST"])
    bp.add_route(remove_label, f"{one}/labels/<label>", methods=["DELETE"])
    bp.add_route(add_note, f"{one}/notes", methods=["POST"])
    bp.add_route(suggestion, f"{one}/suggestion", methods=["POST"])
    bp.add_route(list_conversations, f"{api}/conversations", methods=["GET"])
    bp.add_route(get_conversation, one, methods=["GET"])
    bp.add_route(claim, f"{one}/claim", methods=["POST"])
    bp.add_route(post_message, f"{one}/messages", methods=["POST"])
    bp.add_route(transfer, f"{one}/transfer", methods=["POST"])
    bp.add_route(close, f"{one}/close", methods=["POST"])
    bp.add_route(queue, f"{api}/queue", methods=["GET"])
