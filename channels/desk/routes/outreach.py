"""The provider writes first: outbound WhatsApp messages and outage notices
(supervisors and admins).

``POST /whatsapp/send`` is free-form, so only inside the customer's 24-hour
window (409 outside it, pointing to templates); ``POST /whatsapp/send-template``
sends an approved template (whatsapp_templates.yml) with components in Meta's
shape, checked before the call. Both land in the customer's transcript (the
Rasa tracker of ``wa:<number>``) as the agent's message. ``/outages`` registers,
updates and resolves outages; the job worker notifies the area's customers.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Dict, Optional
from urllib.parse import urlparse

from rasa.shared.core.events import BotUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import senders
from bot.errors import Conflict, DependencyUnavailable, Forbidden, InvalidInput, UpstreamFailed
from bot.desk.users import Agent
from bot.jobs.queue import enqueue
from bot.outreach.outbound import KINDS, WINDOW_CLOSED, free_form
from bot.outreach.outages import (
    RESOLVED, STARTED, OutageBook, area_fields, expected_end_field, outage_campaign, text_field,
)
from bot.outreach.sender import campaign_stats
from bot.outreach.settings import outreach_settings
from bot.outreach.templates import approved_templates
from bot.outreach.window import CustomerWindows
from bot.phones import whatsapp_e164, whatsapp_number
from bot.redis_pool import get_redis, redis_key
from channels.desk import rate_limit
from channels.desk.common import current_agent, json_body, message_text, writable_conversation
from channels.desk.delivery import CustomerLine

logger = logging.getLogger(__name__)


async def supervisor(request: Request) -> Agent:
    agent = await current_agent(request)
    if not agent.sees_everything:
        raise Forbidden("outbound messages and outages are for supervisors and admins")
    return agent


async def sender(request: Request) -> Agent:
    """A supervisor within the per-user send budget (100 a minute by default)."""
    agent = await supervisor(request)
    await rate_limit.count(request, "desk-send", outreach_settings().send_rate_per_minute,
                           f"agent:{agent.username}")
    return agent


def number_field(value: Any, field: str = "to") -> str:
    if not isinstance(value, str):
        raise InvalidInput(field, "required: the customer's WhatsApp number")
    try:
        return whatsapp_e164(value)
    except ValueError as error:
        raise InvalidInput(field, str(error)) from None


def url_field(value: Any) -> str:
    parsed = urlparse(value) if isinstance(value, str) else None
    if not parsed or parsed.scheme != "https" or not parsed.netloc or len(value) > 2048:
        raise InvalidInput("url", "required: an https URL Meta can download the file from")
    return value


def graph_of(request: Request):
    for channel in getattr(request.app.ctx, "input_channels", None) or []:
        if channel.name() == "whatsapp":
            return channel.graph
    raise DependencyUnavailable("the WhatsApp channel is not configured on this server")


async def deliver(request: Request, agent: Agent, to: str, body: Dict[str, Any], transcript: str,
                  outbound: Dict[str, Any], sender_id: Optional[str] = None) -> HTTPResponse:
    """Send through the Graph API, then record it in the customer's tracker
    (``sender_id``: the conversation's, else the number's ``wa:`` id)."""
    sent = await graph_of(request).send(to, body)
    if sent.error_code == WINDOW_CLOSED:
        raise Conflict("Meta refused it: the customer's 24-hour window is closed; send a template "
                       "(POST /desk/api/whatsapp/send-template)", "to")
    if not sent.message_id:
        raise UpstreamFailed(f"the WhatsApp Cloud API refused the message (code {sent.error_code})", "to")
    event = BotUttered(transcript, metadata={"desk_agent": agent.username,
                                             "outbound": dict(outbound, message_id=sent.message_id)})
    await CustomerLine(request.app).append(sender_id or senders.sender_id(senders.WHATSAPP, to), [event])
    logger.info("desk: outbound WhatsApp %s sent by %s", outbound.get("type"), agent.username)
    return response.json({"message_id": sent.message_id, "to": to, **outbound})


async def send(request: Request) -> HTTPResponse:
    agent = await sender(request)
    data = json_body(request, ("to", "type", "content", "url", "caption", "filename"))
    to = number_field(data.get("to"))
    kind = data.get("type", "text")
    if kind not in KINDS:
        raise InvalidInput("type", "must be text, image or document")
    text = message_text(data.get("content"), "content") if kind == "text" else ""
    url = url_field(data.get("url")) if kind != "text" else ""
    body, transcript = free_form(kind, text, url, data.get("caption") or "", data.get("filename"))
    left = await CustomerWindows(get_redis()).seconds_left(to)
    if left <= 0:
        raise Conflict("outside the customer's 24-hour window (no message from them in the last 24 hours): "
                       "only an approved template may be sent; use POST /desk/api/whatsapp/send-template", "to")
    return await deliver(request, agent, to, body, transcript, {"type": kind, "window_seconds_left": left})


async def send_template(request: Request) -> HTTPResponse:
    agent = await sender(request)
    data = json_body(request, ("to", "template_name", "language", "components"))
    to = number_field(data.get("to"))
    body = approved_templates().checked(data.get("template_name"), data.get("language"), data.get("components"))
    template = approved_templates().get(body["template"]["name"])
    texts = [p.get("text", "") for c in body["template"].get("components", []) if c.get("type") == "body"
             for p in c.get("parameters", [])]
    return await deliver(request, agent, to, body, template.render(dict(zip(template.body, texts))),
                         {"type": "template", "template_name": template.name})


async def list_templates(request: Request) -> HTTPResponse:
    """The approved templates with their wording and parameters: the console's picker (any agent)."""
    await current_agent(request)
    return response.json({"templates": [t.as_dict() for t in approved_templates().templates.values()]})


async def conversation_template(request: Request, conversation_id: str) -> HTTPResponse:
    """The agent of a WhatsApp conversation whose window closed writes first again:
    an approved utility template, its parameters by name (``{"customer_name": "Ana"}``)."""
    agent = await current_agent(request)
    data = json_body(request, ("template_name", "parameters"))
    conversation = await writable_conversation(agent, conversation_id)
    to = whatsapp_number(conversation.sender_id)
    if not to:
        raise Conflict(f"conversation {conversation.id} is on {conversation.channel}: templates are "
                       "WhatsApp's; write a normal message", "channel")
    await rate_limit.count(request, "desk-send", outreach_settings().send_rate_per_minute,
                           f"agent:{agent.username}")
    name = data.get("template_name")
    if not isinstance(name, str) or not name:
        raise InvalidInput("template_name", "required: the approved template's name")
    template = approved_templates().get(name)
    if template.category != "utility":
        raise InvalidInput("template_name", f"{name} is a {template.category} template; a conversation "
                                            "takes utility templates (supervisors send others)")
    values = template.filled(data.get("parameters", {}))
    await deliver(request, agent, whatsapp_e164(to), template.message(values), template.render(values),
                  {"type": "template", "template_name": name}, conversation.sender_id)
    return response.json({"message": {"author": "agent", "agent": agent.username, "text": template.render(values),
                                      "template_name": name}}, status=201)


async def window(request: Request, number: str) -> HTTPResponse:
    """Time left in a customer's window: the console's countdown (any agent)."""
    await current_agent(request)
    to = number_field(number, "number")
    left = await CustomerWindows(get_redis()).seconds_left(to)
    return response.json({"to": to, "open": left > 0, "seconds_left": left})


async def notices(outage_id: str, phase: str) -> bool:
    return await enqueue("outage_notices", outage_id, phase,
                         job_id=redis_key("job", outage_campaign(outage_id, phase)))


async def outage_view(outage) -> Dict[str, Any]:
    redis = get_redis()
    view = outage.as_dict()
    view["notices"] = {phase: await campaign_stats(redis, outage_campaign(outage.id, phase))
                       for phase in (STARTED, RESOLVED)}
    return view


async def create_outage(request: Request) -> HTTPResponse:
    agent = await supervisor(request)
    data = json_body(request, ("area", "description", "expected_end"))
    neighbourhood, city = area_fields(data.get("area"))
    outage = await OutageBook(get_redis()).create(
        neighbourhood, city, text_field(data.get("description"), "description"),
        expected_end_field(data.get("expected_end")), agent.username)
    await notices(outage.id, STARTED)
    logger.info("desk: outage %s registered by %s", outage.id, agent.username)
    return response.json({"outage": await outage_view(outage)}, status=201)


async def update_outage(request: Request, outage_id: str) -> HTTPResponse:
    agent = await supervisor(request)
    data = json_body(request, ("description", "expected_end", "status"))
    book = OutageBook(get_redis())
    outage = await book.get(outage_id)
    changes: Dict[str, Optional[Any]] = {}
    if "description" in data:
        changes["description"] = text_field(data["description"], "description")
    if "expected_end" in data:
        changes["expected_end"] = expected_end_field(data["expected_end"])
    status = data.get("status")
    if status not in (None, "active", RESOLVED):
        raise InvalidInput("status", "must be active or resolved")
    if status == RESOLVED and outage.resolved_at:
        raise Conflict(f"outage {outage_id} is already resolved", "status")
    if status == "active" and outage.resolved_at:
        raise Conflict(f"outage {outage_id} is resolved; register a new one", "status")
    if status == RESOLVED:
        changes["resolved_at"] = round(time.time(), 3)
    outage = await book.update(outage, **changes)
    if status == RESOLVED:
        await notices(outage.id, RESOLVED)
        logger.info("desk: outage %s resolved by %s", outage.id, agent.username)
    return response.json({"outage": await outage_view(outage)})


async def get_outage(request: Request, outage_id: str) -> HTTPResponse:
    await supervisor(request)
    return response.json({"outage": await outage_view(await OutageBook(get_redis()).get(outage_id))})


async def list_outages(request: Request) -> HTTPResponse:
    await supervisor(request)
    return response.json({"outages": [await outage_view(o) for o in await OutageBook(get_redis()).active()]})


def register(bp: Blueprint, api: str) -> None:
    bp.add_route(send, f"{api}/whatsapp/send", methods=["POST"])
    bp.add_route(send_template, f"{api}/whatsapp/send-template", methods=["POST"])
    bp.add_route(window, f"{api}/whatsapp/window/<number>", methods=["GET"])
    bp.add_route(list_templates, f"{api}/whatsapp/templates", methods=["GET"])
    bp.add_route(conversation_template, f"{api}/conversations/<conversation_id>/template", methods=["POST"])
    bp.add_route(list_outages, f"{api}/outages", methods=["GET"])
    bp.add_route(create_outage, f"{api}/outages", methods=["POST"])
    bp.add_route(get_outage, f"{api}/outages/<outage_id>", methods=["GET"])
    bp.add_route(update_outage, f"{api}/outages/<outage_id>", methods=["PATCH"])
