"""The jobs customers come for, run after ``customer_id_form`` identified them.

Each action reads the customer and contract from the ERP (``actions.backend``),
does the job, and answers in short WhatsApp-sized messages. Anything that
changes something in the ERP returns a protocol number. Backend failures get
an apology and a way to a person, never silence.

This module holds what every job shares (:class:`CustomerAction`, the common
buttons, the words for ticket subjects); the jobs live by concept in
``actions/billing.py`` (invoices, payments, trust unlock),
``actions/connection.py`` (outage, no or slow connection) and
``actions/tickets.py`` (requests that become a ticket, ticket status).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.backend import TALK_TO_HUMAN_BUTTON, apologise, customer_and_contract
from actions.handoff import hand_off
from actions.verification import refuse_unverified
from bot.desk.settings import desk_settings
from bot.isp.base import BackendError, Contract, Customer, TicketSubject

REPEATED_OFFER = "Vi que voce ja pediu isso algumas vezes. Se preferir, um atendente resolve com voce."
INVOICE_BUTTON = {"title": "2a via / PIX", "payload": "/request_invoice"}
UNLOCK_BUTTON = {"title": "Desbloqueio", "payload": "/request_trust_unlock"}
VISIT_BUTTON = {"title": "Agendar tecnico", "payload": "/request_technical_visit"}

SUBJECT_WORDS = {
    TicketSubject.NO_CONNECTION: "sem conexao",
    TicketSubject.SLOW_CONNECTION: "lentidao",
    TicketSubject.TECHNICAL_VISIT: "visita tecnica",
    TicketSubject.PLAN_CHANGE: "mudanca de plano",
    TicketSubject.ADDRESS_CHANGE: "mudanca de endereco",
    TicketSubject.CANCELLATION: "cancelamento",
    TicketSubject.DUE_DATE_CHANGE: "troca de vencimento",
    TicketSubject.NEW_SERVICE: "nova instalacao",
    TicketSubject.WIFI_PASSWORD: "senha do wi-fi",
    TicketSubject.PAYMENT_RECEIPT: "comprovante de pagamento",
    TicketSubject.HUMAN_CONTACT: "pedido de atendimento humano",
}


def same_request_in_a_row(events: List[Dict[Text, Any]]) -> int:
    """How many of the customer's last typed messages in this session, the latest
    included, asked for the same thing (the same intent). Buttons (``/intent``
    payloads) are choices, not repetition: not counted."""
    intents: List[Any] = []
    for event in events:
        if event.get("event") == "session_started":
            intents = []
        elif event.get("event") == "user" and not (event.get("text") or "").startswith("/"):
            intents.append(((event.get("parse_data") or {}).get("intent") or {}).get("name"))
    if not intents or intents[-1] is None:
        return 0
    count = 0
    for intent in reversed(intents):
        if intent != intents[-1]:
            break
        count += 1
    return count


class CustomerAction(Action, ABC):
    """Base of the jobs: load customer and contract, run, turn ERP errors polite."""

    @abstractmethod
    def name(self) -> Text:
        """The action's name in domain.yml."""

    @abstractmethod
    async def serve(
        self, dispatcher: CollectingDispatcher, tracker: Tracker,
        customer: Customer, contract: Contract,
    ) -> List[Dict[Text, Any]]:
        """Do the job for an identified customer and contract."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        settings = desk_settings()
        repeats = same_request_in_a_row(tracker.events or [])
        if repeats >= settings.auto_handoff_repeats and settings.auto_handoff != "off":
            intent = (tracker.latest_message.get("intent") or {}).get("name") or "o mesmo pedido"
            if settings.auto_handoff == "handoff":
                return await hand_off(dispatcher, tracker, reason=f"cliente repetiu {intent} {repeats} vezes")
            dispatcher.utter_message(text=REPEATED_OFFER, buttons=[TALK_TO_HUMAN_BUTTON])
        if await refuse_unverified(dispatcher, tracker, self.name()):
            return []
        try:
            customer, contract = await customer_and_contract(tracker)
            if customer is None or contract is None:
                dispatcher.utter_message(
                    text="Nao consegui localizar seu contrato. Um atendente pode te ajudar.",
                    buttons=[TALK_TO_HUMAN_BUTTON],
                )
                return []
            return await self.serve(dispatcher, tracker, customer, contract)
        except BackendError as error:
            return apologise(dispatcher, error)
