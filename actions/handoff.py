"""``action_handoff`` and ``action_csat``: a person takes over, then the bot asks a score.

``action_handoff`` queues the conversation on the desk (``bot.desk``: Redis,
shared with every ``rasa run`` replica), tells the customer their position
and estimated wait, and pauses the bot (``ConversationPaused``). While paused
the desk connector relays the customer's messages to the agent; when the
agent closes, the connector resumes the bot and asks the CSAT question whose
answer (intent ``rate_service``) ``action_csat`` stores once.

Outside business hours (``DESK_HOURS``/``DESK_HOLIDAYS``) or with no agent
online the customer is told so, with the hours and a protocol (an ERP ticket
when identified, else a desk protocol), and stays in the queue.

Other actions hand off through :func:`hand_off` (e.g. the LLM fallback after
repeated misunderstandings, issue 6: ``reason=REASON_NOT_UNDERSTOOD``).
"""
from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from redis.exceptions import RedisError

from actions.backend import backend, customer_and_contract
from bot.desk import Desk
from bot.desk import handoff as texts
from bot.desk.departments import routing
from bot.desk.errors import DeskError
from bot.desk.hours import TIMEZONE, BusinessHours
from bot.desk.settings import desk_settings
from bot.documents import mask_document
from bot.metrics import record_handoff
from bot.isp.base import BackendError, ContractStatus, TicketSubject
from bot.pii import mask_pii
from bot.redis_pool import get_redis
from bot.phones import whatsapp_number

logger = logging.getLogger(__name__)

DESK_SLOT = "desk_conversation_id"
_APOLOGY_START = "Nao consegui consultar o sistema"
desk = Desk.shared


def _session_events(tracker: Tracker) -> List[Dict[Text, Any]]:
    events = tracker.events or []
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") == "session_started":
            return events[index:]
    return events


def _context(tracker: Tracker) -> Tuple[List[Tuple[str, str]], List[Optional[str]], bool, int]:
    """Turns (author, text), the intents seen, whether the ERP failed, fallbacks run."""
    turns: List[Tuple[str, str]] = []
    intents: List[Optional[str]] = []
    backend_failed, fallbacks = False, 0
    for event in _session_events(tracker):
        kind = event.get("event")
        if kind == "user":
            text = event.get("text") or ""
            if not text.startswith("/"):
                turns.append(("cliente", text))
            intents.append(((event.get("parse_data") or {}).get("intent") or {}).get("name"))
        elif kind == "bot" and event.get("text"):
            turns.append(("bot", event["text"]))
            backend_failed = event["text"].startswith(_APOLOGY_START)
        elif kind == "action" and event.get("name") == "action_llm_fallback":
            fallbacks += 1
    return turns, intents, backend_failed, fallbacks


def _phone_of(sender_id: Text) -> str:
    number = whatsapp_number(sender_id)
    if number is None:
        return ""
    return mask_pii(number) if len(number) > 4 else "****"


def whatsapp_profile_name(tracker: Tracker) -> str:
    """The name a WhatsApp customer shows in their profile (Meta sends it with
    each message): what the desk calls them until the ERP knows them."""
    if tracker.get_latest_input_channel() != "whatsapp":
        return ""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    return str(metadata.get("profile_name") or "").strip()[:120]


async def hand_off(dispatcher: CollectingDispatcher, tracker: Tracker,
                   reason: Optional[str] = None,
                   now: Optional[datetime] = None) -> List[Dict[Text, Any]]:
    """Queue the conversation on the desk, tell the customer, pause the bot."""
    turns, intents, backend_failed, fallbacks = _context(tracker)
    topics = [tracker.get_slot("requested_service"), *intents[-3:]]
    job_intents = [intent for intent in intents if intent not in ("request_human", None)]
    reason = reason or texts.reason_for(job_intents[-1] if job_intents else intents[-1] if intents else None,
                                        backend_failed, fallbacks)
    document = tracker.get_slot("customer_document")
    name = tracker.get_slot("customer_name") or whatsapp_profile_name(tracker)
    contract_id = tracker.get_slot("contract_id") or ""
    customer = contract = None
    if document and not backend_failed:
        try:
            customer, contract = await customer_and_contract(tracker)
        except BackendError as error:
            logger.warning("handoff: ERP lookup failed: %s", error)
            backend_failed = True
    blocked = bool(contract and contract.status is ContractStatus.BLOCKED_DEBT)
    gathered = [(label, value) for label, value in (
        ("Nome", name),
        ("Documento", mask_document(re.sub(r"\D", "", document)) if document else ""),
        # The atendente must know whether the bot confirmed who is typing.
        ("Identidade", "" if not document else "confirmada" if tracker.get_slot("verified_document") == document
         else "NAO confirmada (so o documento digitado)"),
        ("Contrato", contract_id or (contract.id if contract else "")),
        ("Situacao do contrato", contract.status.value if contract else ""),
        ("Servico pedido", tracker.get_slot("requested_service") or ""),
        ("Ultimo protocolo", tracker.get_slot("protocol") or ""),
    ) if value]
    summary = texts.summary_for(turns, gathered, reason)
    store = desk()
    # the department: what the customer asked for, then their last jobs, newest first
    department_slug = routing().route([tracker.get_slot("requested_service"), *reversed(job_intents)])
    try:
        department = await store.departments.get(department_slug)
        conversation, created = await store.conversations.open(
            channel=tracker.get_latest_input_channel() or "rest",
            sender_id=tracker.sender_id,
            reason=reason,
            priority=texts.priority_for(topics, blocked, backend_failed),
            summary=summary,
            customer_name=name,
            customer_phone=_phone_of(tracker.sender_id),
            customer_contract=contract_id or (contract.id if contract else ""),
            department=department.slug if department else "",
            customer_document=re.sub(r"\D", "", document or ""),
            labels=[label for label, applies in (("bloqueado", blocked), ("falha-sistema", backend_failed),
                                                 ("queda", "ask_outage" in topics)) if applies],
        )
        if not created:
            dispatcher.utter_message(text=texts.ALREADY_QUEUED_TEXT, buttons=[texts.LEAVE_BUTTON])
            return [ConversationPaused()]
        await _count_handoff(conversation.channel)
        hours = department.business_hours(desk_settings().hours) if department else desk_settings().hours
        moment = now or datetime.now(TIMEZONE)
        online = [a for a in await store.users.online_agents() if a.serves(conversation.department)]
        if hours.is_open(moment) and online:
            status = await store.conversations.queue_status(conversation.id)
            position = status.position if status else 1
            wait = status.estimated_wait_seconds if status else None
            dispatcher.utter_message(text=texts.queued_text(position, wait, department.name if department else ""),
                                     buttons=[texts.LEAVE_BUTTON])
            return [ConversationPaused()]
        protocol = await _protocol(customer, contract, summary)
        await store.conversations.set_protocol(conversation.id, protocol)
        dispatcher.utter_message(text=unavailable_text(hours, moment, protocol), buttons=[texts.LEAVE_BUTTON])
        return [SlotSet("protocol", protocol), ConversationPaused()]
    except (RedisError, DeskError) as error:
        logger.error("handoff of %s failed: %s", tracker.sender_id, error)
        dispatcher.utter_message(text=(
            "Nao consegui te colocar na fila de atendimento agora, desculpa. Tenta de "
            "novo em alguns minutos."
        ))
        return []


async def _count_handoff(channel: str) -> None:
    """``isp_handoffs_total`` in /metrics; a count lost must not lose the handoff."""
    try:
        await record_handoff(get_redis(), channel)
    except RedisError as error:
        logger.warning("handoff not counted in metrics: %s", error)


def unavailable_text(hours: BusinessHours, moment: datetime, protocol: str) -> str:
    """Closed: the hours and the next opening. Open with nobody online: that, and
    that the customer stays in the queue (no reopening time: it is open)."""
    if hours.is_open(moment):
        return texts.closed_text(hours.describe(), None, protocol, nobody_online=True)
    return texts.closed_text(hours.describe(), hours.describe_next_opening(moment), protocol, nobody_online=False)


async def _protocol(customer, contract, summary: str) -> str:
    """An ERP ticket when the customer is identified, else a desk protocol."""
    if customer is not None and contract is not None:
        try:
            ticket = await backend().open_ticket(
                customer.id, contract.id, TicketSubject.HUMAN_CONTACT,
                "Pedido de atendimento humano fora do horario ou sem atendente online.\n" + summary,
            )
            return ticket.protocol
        except BackendError as error:
            logger.warning("handoff: ERP ticket failed, using a desk protocol: %s", error)
    return await desk().conversations.next_protocol()


class ActionHandoff(Action):
    def name(self) -> Text:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        return await hand_off(dispatcher, tracker)


class ActionCsat(Action):
    """Stores the customer's 1-5 score of the desk conversation that just ended."""

    def name(self) -> Text:
        return "action_csat"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        conversation_id = tracker.get_slot(DESK_SLOT)
        if not conversation_id:
            dispatcher.utter_message(text=texts.CSAT_NOTHING)
            return []
        message = tracker.latest_message or {}
        score = texts.csat_score(next(tracker.get_latest_entity_values(texts.CSAT_ENTITY), None),
                                 message.get("text"))
        if score is None:
            dispatcher.utter_message(text=texts.CSAT_INVALID, buttons=texts.csat_buttons())
            return []
        try:
            await desk().conversations.rate(conversation_id, score)
        except DeskError as error:  # already rated, unknown (expired) conversation
            logger.info("csat of %s not stored: %s", conversation_id, error)
            dispatcher.utter_message(text=texts.CSAT_ALREADY)
            return [SlotSet(DESK_SLOT, None)]
        except RedisError as error:
            logger.error("csat of %s not stored, Redis: %s", conversation_id, error)
            dispatcher.utter_message(text="Nao consegui registrar sua nota agora, desculpa.")
            return []
        dispatcher.utter_message(text=texts.CSAT_THANKS)
        return [SlotSet(DESK_SLOT, None)]


def proactive_context(tracker: Tracker) -> List[Dict[Text, Any]]:
    """Slots a new session keeps: a billing reminder the customer is answering
    (written into the conversation by the WhatsApp connector, after their last
    message) still names the invoice and contract ``ja paguei`` or ``manda o pix`` mean."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return []
        outreach = (event.get("metadata") or {}).get("outreach") or {} if event.get("event") == "bot" else {}
        if outreach.get("invoice_id"):
            return [SlotSet("invoice_id", outreach["invoice_id"]), SlotSet("contract_id", outreach.get("contract_id"))]
    return []


class ActionSessionStart(Action):
    """Rasa's session start, but a new session (60 idle minutes, e.g. a customer
    queued overnight) must not wake the bot while the desk has the conversation."""

    def name(self) -> Text:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        events = [SessionStarted(), *proactive_context(tracker), ActionExecuted("action_listen")]
        try:
            if await desk().conversations.find_open(tracker.sender_id) is not None:
                events.append(ConversationPaused())
        except RedisError as error:  # the desk is unknown: let the bot answer
            logger.warning("session start of %s: desk not checked: %s", tracker.sender_id, error)
        return events
