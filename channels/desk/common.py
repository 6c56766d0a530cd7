"""What the desk's routes and its WebSocket share: who is asking, reading a
request, and the one way an agent's message reaches a customer.

Everything here raises the typed errors of ``bot.errors`` (through
``bot.desk.errors``); the blueprint maps them to HTTP in one place
(``channels/common/errors.py``, see ``channels.desk.input``).
"""
from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Dict, Optional, Tuple

from sanic import Sanic
from sanic.request import Request

from bot import chat_input
from bot.desk import Desk
from bot.desk.auth import Auth
from bot.desk.conversations import IN_PROGRESS, Conversation, require_access
from bot.desk.model import sla_of
from bot.desk.errors import Conflict, Forbidden, InvalidInput
from bot.desk.users import Agent
from bot.errors import AppError, DependencyUnavailable, MalformedRequest, PayloadTooLarge, UpstreamFailed
from bot.media import MediaFile, MediaStore, media_settings
from bot.metrics import record_unexpected
from bot.pii import mask_pii
from bot.redis_pool import get_redis
from bot.settings import SettingsError
from channels.common.errors import UNAVAILABLE_ERRORS
from channels.desk.transcript import iso, message_of
from channels.desk.delivery import CustomerLine, Undeliverable, window_closed

logger = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_BODY_BYTES = 64 * 1024


def desk_auth(desk: Desk) -> Auth:
    """Logins and tokens; 503 when ``DESK_JWT_SECRET`` is not usable on this server."""
    try:
        return desk.auth()
    except SettingsError as error:
        logger.error("desk: %s", error)
        raise DependencyUnavailable(
            "the desk is not configured on this server (DESK_JWT_SECRET)") from None


def bearer_token(request: Request) -> Optional[str]:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


async def current_agent(request: Request) -> Agent:
    """The agent behind the request's bearer token (401 otherwise)."""
    return await desk_auth(Desk.shared()).verify(bearer_token(request))


async def conversation_for(agent: Agent, conversation_id: str) -> Conversation:
    """The conversation, if ``agent`` may see it (404 / 403 otherwise)."""
    conversation = await Desk.shared().conversations.require(conversation_id)
    require_access(agent, conversation)
    return conversation


def json_body(request: Request, allowed: tuple) -> Dict[str, Any]:
    """The request's JSON object; unknown fields are refused (422 naming the first)."""
    try:
        data = chat_input.parse_json(request.body or b"{}", max_bytes=MAX_BODY_BYTES)
    except chat_input.TooLarge as error:
        raise PayloadTooLarge(str(error), "body") from None
    except chat_input.MalformedJson as error:
        raise MalformedRequest(f"body: not valid JSON ({error})", "body") from None
    if not isinstance(data, dict):
        raise MalformedRequest("body: must be a JSON object", "body")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise InvalidInput(unknown[0], f"unknown field (allowed: {', '.join(allowed)})")
    return data


def message_text(value: Any, field: str = "text") -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, "is required (1 to 4096 characters)")
    if len(value) > MAX_TEXT:
        raise InvalidInput(field, f"at most {MAX_TEXT} characters")
    return value.strip()


def time_arg(request: Request, name: str) -> Optional[float]:
    """A query argument given as a Unix timestamp or an ISO 8601 date/time."""
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(name, "an ISO 8601 date/time or a Unix timestamp") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def whole_arg(request: Request, name: str, default: int, low: int, high: int) -> int:
    """A whole-number query argument in [low, high] (422 naming it), or ``default``."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidInput(name, f"a whole number from {low} to {high}")
    return int(raw)


async def sla_targets() -> Dict[str, Tuple[int, int]]:
    """Each department's (first response, resolution) targets, the desk's defaults filled in."""
    desk = Desk.shared()
    settings = desk.settings
    return {d.slug: (d.first_response_seconds or settings.first_response_target_seconds,
                     d.resolution_seconds or settings.resolution_target_seconds)
            for d in await desk.departments.list()}


def default_targets() -> Tuple[int, int]:
    settings = Desk.shared().settings
    return settings.first_response_target_seconds, settings.resolution_target_seconds


def conversation_view(conversation: Conversation, position: Optional[int] = None,
                      now: Optional[float] = None,
                      targets: Optional[Dict[str, Tuple[int, int]]] = None) -> Dict[str, Any]:
    """The contract's conversation object (phone masked, times ISO 8601)."""
    customer = {key: value for key, value in (
        ("name", conversation.customer_name),
        ("phone_masked", mask_pii(conversation.customer_phone)),
        ("contract_id", conversation.customer_contract)) if value}
    view: Dict[str, Any] = {
        "id": conversation.id, "status": conversation.status, "channel": conversation.channel,
        "sender_id": conversation.sender_id, "customer": customer, "department": conversation.department,
        "reason": conversation.reason, "priority": conversation.priority,
        "summary": conversation.summary, "created_at": iso(conversation.created_at),
    }
    optional = {
        "protocol": conversation.protocol or None, "agent": conversation.agent,
        "claimed_at": iso(conversation.claimed_at) if conversation.claimed_at else None,
        "closed_at": iso(conversation.closed_at) if conversation.closed_at else None,
        "csat": conversation.csat, "resolution": conversation.resolution or None,
        "notes": conversation.notes or None, "transfers": conversation.transfers or None,
        "labels": conversation.labels or None,
        "internal_notes": [dict(n, at=iso(n.get("at"))) for n in conversation.internal_notes] or None,
    }
    view.update({key: value for key, value in optional.items() if value is not None})
    if position is not None:
        view["position"] = position
        view["wait_seconds"] = max(0, round((now or time.time()) - conversation.created_at))
    if targets is not None:  # the SLA: first response and resolution against the department's targets
        first, resolution = targets.get(conversation.department) or default_targets()
        view["sla"] = sla_of(conversation, first, resolution, now or time.time()).as_dict()
    return view


async def writable_conversation(agent: Agent, conversation_id: str) -> Conversation:
    """A conversation ``agent`` may write in: in progress, theirs (or a supervisor's)."""
    conversation = await conversation_for(agent, conversation_id)
    if conversation.status != IN_PROGRESS:
        raise Conflict(f"conversation {conversation.id} is {conversation.status}; "
                       "claim it before writing")
    if conversation.agent != agent.username and not agent.sees_everything:
        raise Forbidden(f"conversation {conversation.id} is assigned to another agent")
    return conversation


async def open_line(agent: Agent, conversation_id: str) -> Conversation:
    """A conversation ``agent`` may write in now (theirs, in progress, WhatsApp window open)."""
    conversation = await writable_conversation(agent, conversation_id)
    if await window_closed(conversation.sender_id):
        raise Conflict("the customer's 24-hour WhatsApp window is closed (no message from them in "
                       "24 hours): only an approved template gets through; send one with "
                       f"POST /desk/api/conversations/{conversation.id}/template", "window")
    return conversation


@asynccontextmanager
async def delivering(conversation: Conversation, what: str) -> AsyncIterator[None]:
    """Errors of a delivery as the API says them: a channel that cannot write first
    (409), Redis down (503), the channel's API refusing (502, logged)."""
    try:
        yield
    except Undeliverable as error:
        raise Conflict(str(error), "channel") from None
    except (AppError, *UNAVAILABLE_ERRORS):
        raise
    except Exception as error:
        logger.exception("desk: %s to %s not delivered", what, conversation.id)
        record_unexpected(f"desk.send_{what}")
        raise UpstreamFailed(f"the customer's channel did not accept the {what}: "
                             f"{type(error).__name__}", "channel") from None


async def send_agent_message(app: Sanic, agent: Agent, conversation_id: str,
                             text: Any) -> Dict[str, Any]:
    """An agent writes to the customer of a conversation they hold (API and /desk/ws)."""
    text = message_text(text)
    conversation = await open_line(agent, conversation_id)
    async with delivering(conversation, "message"):
        event = await CustomerLine(app).say(conversation, text, agent=agent.username)
    return {"author": "agent", "agent": agent.username, "text": text,
            "timestamp": iso(event.timestamp)}


async def send_agent_media(app: Sanic, agent: Agent, conversation_id: str, file: MediaFile,
                           caption: str) -> Dict[str, Any]:
    """An agent sends a checked file (with an optional caption) to their customer."""
    conversation = await open_line(agent, conversation_id)
    stored = await MediaStore(get_redis(), media_settings().ttl_seconds).put(file, origin="agent")
    async with delivering(conversation, stored.kind):
        event = await CustomerLine(app).send_media(conversation, stored, file.data, caption, agent.username)
    return message_of(event.as_dict())
