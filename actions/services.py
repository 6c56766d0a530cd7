"""The jobs customers come for, run after ``customer_id_form`` identified them.

Each action reads the customer and contract from the ERP (``actions.backend``),
does the job, and answers in short WhatsApp-sized messages. Anything that
changes something in the ERP returns a protocol number. Backend failures get
an apology and a way to a person, never silence.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.backend import TALK_TO_HUMAN_BUTTON, apologise, backend, customer_and_contract
from actions.details import PERIODS
from actions.verification import refuse_unverified
from bot.formatting import br_date, br_datetime, brl, intent_payload
from bot.isp.base import (
    BackendError,
    Contract,
    ContractStatus,
    Customer,
    InvoiceStatus,
    TicketStatus,
    TicketSubject,
)

INVOICE_BUTTON = {"title": "2a via / PIX", "payload": "/request_invoice"}
UNLOCK_BUTTON = {"title": "Desbloqueio", "payload": "/request_trust_unlock"}
VISIT_BUTTON = {"title": "Agendar tecnico", "payload": "/request_technical_visit"}

TICKET_STATUS_WORDS = {
    TicketStatus.OPEN: "aberto, aguardando a equipe",
    TicketStatus.IN_PROGRESS: "em andamento",
    TicketStatus.SCHEDULED: "agendado",
    TicketStatus.RESOLVED: "resolvido",
    TicketStatus.CANCELLED: "cancelado",
}
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


async def send_invoice(dispatcher: CollectingDispatcher, invoice) -> None:
    """Linha digitavel, PDF and PIX as separate messages: easy to copy on a phone."""
    state = "vencida" if invoice.status is InvoiceStatus.OVERDUE else "em aberto"
    dispatcher.utter_message(
        text=f"Fatura com vencimento em {br_date(invoice.due_date)}, {brl(invoice.amount)} ({state})."
    )
    dispatcher.utter_message(text="Linha digitavel do boleto:")
    dispatcher.utter_message(text=invoice.barcode)
    dispatcher.utter_message(text=f"Boleto em PDF: {invoice.pdf_url}")
    dispatcher.utter_message(text="PIX copia e cola (compensa na hora):")
    dispatcher.utter_message(text=await backend().pix_code(invoice.id))


class ActionInvoice(CustomerAction):
    def name(self) -> Text:
        return "action_invoice"

    async def serve(self, dispatcher, tracker, customer, contract):
        invoices = await backend().list_open_invoices(contract.id)
        if not invoices:
            dispatcher.utter_message(text="Voce nao tem nenhuma fatura em aberto neste contrato. Tudo em dia!")
            return [SlotSet("invoice_id", None)]
        wanted = tracker.get_slot("invoice_id")
        chosen = next((i for i in invoices if i.id == wanted), invoices[0])
        if len(invoices) > 1:
            lines = "\n".join(
                f"- {br_date(i.due_date)}: {brl(i.amount)}"
                + (" (vencida)" if i.status is InvoiceStatus.OVERDUE else "")
                for i in invoices
            )
            dispatcher.utter_message(text=f"Voce tem {len(invoices)} faturas em aberto:\n{lines}")
        await send_invoice(dispatcher, chosen)
        others = [i for i in invoices if i.id != chosen.id][:3]
        if others:
            dispatcher.utter_message(
                text="Quer o codigo de outra fatura?",
                buttons=[
                    {"title": f"Venc. {i.due_date:%d/%m}",
                     "payload": intent_payload("request_invoice", invoice_id=i.id)}
                    for i in others
                ],
            )
        return [SlotSet("invoice_id", None)]


class ActionPaymentDone(CustomerAction):
    def name(self) -> Text:
        return "action_payment_done"

    async def serve(self, dispatcher, tracker, customer, contract):
        overdue = [
            i for i in await backend().list_open_invoices(contract.id)
            if i.status is InvoiceStatus.OVERDUE
        ]
        if not overdue:
            dispatcher.utter_message(text="Confirmado: nao ha nenhuma fatura vencida em aberto no seu contrato. Obrigado!")
            return []
        dates = ", ".join(br_date(i.due_date) for i in overdue)
        dispatcher.utter_message(
            text=(
                f"Ainda nao consta o pagamento da fatura de {dates}. Pagamento por PIX "
                "compensa em poucos minutos; boleto pode levar ate 3 dias uteis."
            )
        )
        buttons = [TALK_TO_HUMAN_BUTTON]
        if contract.status is ContractStatus.BLOCKED_DEBT:
            dispatcher.utter_message(text="Enquanto compensa, posso liberar sua conexao em confianca.")
            buttons.insert(0, UNLOCK_BUTTON)
        dispatcher.utter_message(text="Se quiser, um atendente confere seu comprovante.", buttons=buttons)
        return []


class ActionTrustUnlock(CustomerAction):
    def name(self) -> Text:
        return "action_trust_unlock"

    async def serve(self, dispatcher, tracker, customer, contract):
        result = await backend().trust_unlock(contract.id)
        if result.allowed:
            until = f" ate {br_date(result.until)}" if result.until else ""
            dispatcher.utter_message(
                text=(
                    f"Pronto, {customer.first_name}! Liberei sua internet em confianca{until}. "
                    "Se nao voltar em 5 minutos, reinicie o roteador. "
                    "Pague a fatura logo para nao bloquear de novo."
                ),
                buttons=[INVOICE_BUTTON],
            )
        else:
            dispatcher.utter_message(
                text=f"Nao consegui fazer o desbloqueio de confianca: {result.reason}.",
                buttons=[INVOICE_BUTTON, TALK_TO_HUMAN_BUTTON],
            )
        return []


class ConnectionAction(CustomerAction, ABC):
    """Outage in the area first, then the debt block, then the line, then a ticket."""

    subject: Optional[TicketSubject] = None

    async def serve(self, dispatcher, tracker, customer, contract):
        outages = await backend().outages_for(contract)
        if outages:
            outage = outages[0]
            forecast = (
                f" Previsao de normalizacao: {br_datetime(outage.forecast)}." if outage.forecast else ""
            )
            dispatcher.utter_message(
                text=(
                    f"Identificamos uma falha na regiao {outage.neighbourhood} "
                    f"({outage.description}), ja em atendimento pela nossa equipe.{forecast} "
                    "Nao precisa abrir chamado, avisamos assim que normalizar."
                )
            )
            return []
        if contract.status is ContractStatus.BLOCKED_DEBT:
            dispatcher.utter_message(
                text="Sua conexao esta bloqueada por fatura em aberto. Posso liberar em confianca ou mandar a 2a via.",
                buttons=[UNLOCK_BUTTON, INVOICE_BUTTON],
            )
            return []
        if self.subject is None:
            dispatcher.utter_message(text="Nao ha nenhuma manutencao ou falha registrada na sua regiao agora.")
            return []
        if contract.status is ContractStatus.SPEED_REDUCED:
            dispatcher.utter_message(
                text="Sua velocidade esta reduzida por fatura em aberto. Com o pagamento, ela volta ao normal.",
                buttons=[INVOICE_BUTTON, UNLOCK_BUTTON],
            )
            return []
        status = await backend().connection_status(contract.id)
        await self.guide(dispatcher, status)
        ticket = await backend().open_ticket(
            customer.id, contract.id, self.subject,
            f"Cliente relatou {SUBJECT_WORDS[self.subject]} pelo assistente virtual. "
            f"Equipamento {'online' if status.online else 'offline'}.",
        )
        dispatcher.utter_message(
            text=(
                f"Abri um chamado para acompanhar: protocolo {ticket.protocol}. Se depois "
                "desses passos continuar, posso agendar um tecnico."
            ),
            buttons=[VISIT_BUTTON, TALK_TO_HUMAN_BUTTON],
        )
        return [SlotSet("protocol", ticket.protocol)]

    async def guide(self, dispatcher, status) -> None:
        if status.online:
            dispatcher.utter_message(text="Seu equipamento aparece conectado na nossa rede agora.")
        else:
            seen = f" desde {br_datetime(status.last_seen)}" if status.last_seen else ""
            dispatcher.utter_message(text=f"Seu equipamento aparece desconectado da nossa rede{seen}.")
        dispatcher.utter_message(
            text=(
                "Vamos tentar:\n1. Desligue o roteador da tomada por 30 segundos e ligue de novo.\n"
                "2. Confira se o cabo de fibra (o fino, verde ou azul) nao esta dobrado ou solto.\n"
                "3. Se a luz LOS estiver vermelha, o problema e na fibra: nao mexa nela."
            )
        )


class ActionNoConnection(ConnectionAction):
    subject = TicketSubject.NO_CONNECTION

    def name(self) -> Text:
        return "action_no_connection"


class ActionSlowConnection(ConnectionAction):
    subject = TicketSubject.SLOW_CONNECTION

    def name(self) -> Text:
        return "action_slow_connection"

    async def guide(self, dispatcher, status) -> None:
        dispatcher.utter_message(
            text=(
                "Para lentidao:\n1. Reinicie o roteador (30 segundos fora da tomada).\n"
                "2. Teste a velocidade perto do roteador ou com cabo; paredes e distancia "
                "derrubam o Wi-Fi.\n3. Prefira a rede 5G para celular e TV perto do roteador."
            )
        )


class ActionOutage(ConnectionAction):
    subject = None

    def name(self) -> Text:
        return "action_outage"


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


class ActionListPlans(Action):
    """Plans on sale, from the ERP."""

    def name(self) -> Text:
        return "action_list_plans"

    async def run(self, dispatcher, tracker, domain) -> List[Dict[Text, Any]]:
        try:
            plans = await backend().list_plans()
        except BackendError as error:
            return apologise(dispatcher, error)
        lines = "\n".join(
            f"- {p.name}: {brl(p.price)}/mes" + (f" ({p.description})" if p.description else "")
            for p in plans
        )
        dispatcher.utter_message(
            text=f"Nossos planos de fibra:\n{lines}",
            buttons=[
                {"title": "Quero contratar", "payload": "/request_new_service"},
                {"title": "Mudar meu plano", "payload": "/request_plan_change"},
            ],
        )
        return []
