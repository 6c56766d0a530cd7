"""Service changes that become a ticket with a protocol, and the status of tickets."""
from __future__ import annotations

from abc import ABC
from typing import Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet

from actions.backend import TALK_TO_HUMAN_BUTTON, backend
from actions.details import PERIODS
from actions.services import SUBJECT_WORDS, CustomerAction
from bot.formatting import br_date, br_datetime
from bot.isp.base import TicketStatus, TicketSubject

TICKET_STATUS_WORDS = {
    TicketStatus.OPEN: "aberto, aguardando a equipe",
    TicketStatus.IN_PROGRESS: "em andamento",
    TicketStatus.SCHEDULED: "agendado",
    TicketStatus.RESOLVED: "resolvido",
    TicketStatus.CANCELLED: "cancelado",
}


class TicketAction(CustomerAction, ABC):
    """Jobs that become a ticket / service order with a protocol number."""

    subject: TicketSubject
    confirmation: Text
    detail_slots: List[Text] = []  # asked by a details form; cleared for the next request

    def details(self, tracker: Tracker) -> Text:
        return ""

    async def serve(self, dispatcher, tracker, customer, contract):
        details = self.details(tracker)
        ticket = await backend().open_ticket(
            customer.id, contract.id, self.subject,
            f"Pedido de {SUBJECT_WORDS[self.subject]} pelo assistente virtual. {details}".strip(),
        )
        dispatcher.utter_message(
            text=" ".join(part for part in (self.confirmation, details, f"Protocolo: {ticket.protocol}.") if part),
            buttons=self.buttons(),
        )
        return [SlotSet("protocol", ticket.protocol)] + [SlotSet(s, None) for s in self.detail_slots]

    def buttons(self) -> List[Dict[Text, Text]]:
        return []


class ActionTechnicalVisit(TicketAction):
    subject = TicketSubject.TECHNICAL_VISIT
    confirmation = "Pedido de visita tecnica registrado. Nossa equipe vai te chamar aqui para confirmar o dia."
    detail_slots = ["visit_period"]

    def name(self) -> Text:
        return "action_technical_visit"

    def details(self, tracker: Tracker) -> Text:
        period = PERIODS.get(tracker.get_slot("visit_period") or "")
        return f"Periodo preferido: {period}." if period else ""


class ActionPlanChange(TicketAction):
    subject = TicketSubject.PLAN_CHANGE
    confirmation = "Pedido de mudanca de plano registrado; a troca vale a partir da proxima fatura."
    detail_slots = ["plan_speed"]

    def name(self) -> Text:
        return "action_plan_change"

    def details(self, tracker: Tracker) -> Text:
        speed = tracker.get_slot("plan_speed")
        return f"Plano desejado: {speed}." if speed else ""


class ActionAddressChange(TicketAction):
    subject = TicketSubject.ADDRESS_CHANGE
    confirmation = "Pedido de mudanca de endereco registrado. Nossa equipe vai verificar a viabilidade e agendar a instalacao."
    detail_slots = ["new_address"]

    def name(self) -> Text:
        return "action_address_change"

    def details(self, tracker: Tracker) -> Text:
        address = tracker.get_slot("new_address")
        return f"Endereco novo: {address}." if address else ""


class ActionCancellation(TicketAction):
    """Accepted here, as the SAC rules require; retention is an offer, not a step."""

    subject = TicketSubject.CANCELLATION
    confirmation = (
        "Seu pedido de cancelamento foi registrado e sera efetivado em ate 2 dias uteis. "
        "Se quiser conversar sobre uma condicao para ficar, e so chamar um atendente."
    )

    def name(self) -> Text:
        return "action_cancellation"

    def buttons(self) -> List[Dict[Text, Text]]:
        return [TALK_TO_HUMAN_BUTTON]


class ActionDueDateChange(TicketAction):
    subject = TicketSubject.DUE_DATE_CHANGE
    confirmation = "Pedido de troca da data de vencimento registrado; a nova data vale a partir da proxima fatura."

    def name(self) -> Text:
        return "action_due_date_change"


class ActionWifiPassword(TicketAction):
    subject = TicketSubject.WIFI_PASSWORD
    confirmation = (
        "Pedido de troca de senha do Wi-Fi registrado; nosso suporte te chama aqui com a senha nova. "
        "Dica: a senha original fica na etiqueta embaixo do roteador."
    )

    def name(self) -> Text:
        return "action_wifi_password"


class ActionTicketStatus(CustomerAction):
    def name(self) -> Text:
        return "action_ticket_status"

    async def serve(self, dispatcher, tracker, customer, contract):
        protocol = (tracker.get_slot("protocol") or "").lstrip("#")
        tickets = []
        if protocol:
            ticket = await backend().ticket_by_protocol(protocol)
            if ticket is None or ticket.customer_id != customer.id:
                dispatcher.utter_message(text=f"Nao encontrei o protocolo {protocol} no seu cadastro.")
            else:
                tickets = [ticket]
        if not tickets:
            tickets = (await backend().list_tickets(customer.id))[:3]
        if not tickets:
            dispatcher.utter_message(text="Voce nao tem nenhum chamado aberto com a gente.")
            return []
        for ticket in tickets:
            scheduled = f", visita em {br_datetime(ticket.scheduled_for)}" if ticket.scheduled_for else ""
            dispatcher.utter_message(
                text=(
                    f"Protocolo {ticket.protocol} ({SUBJECT_WORDS.get(ticket.subject) or ticket.title}), aberto em "
                    f"{br_date(ticket.created_at.date())}: {TICKET_STATUS_WORDS[ticket.status]}{scheduled}."
                )
            )
        return []
