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
from actions.verification import refuse_unverified
from bot.isp.base import BackendError, Contract, Customer, TicketSubject

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
