"""Connection checks: outage in the area, debt block, the customer's line, then a ticket."""
from __future__ import annotations

from abc import ABC
from typing import Optional, Text

from rasa_sdk.events import SlotSet

from actions.backend import TALK_TO_HUMAN_BUTTON, backend
from actions.services import (
    INVOICE_BUTTON,
    SUBJECT_WORDS,
    UNLOCK_BUTTON,
    VISIT_BUTTON,
    CustomerAction,
)
from bot.formatting import br_datetime
from bot.isp.base import ContractStatus, TicketSubject
from bot.outreach.outages import OutageBook
from bot.redis_pool import get_redis


class ConnectionAction(CustomerAction, ABC):
    """Outage in the area first, then the debt block, then the line, then a ticket."""

    subject: Optional[TicketSubject] = None

    async def serve(self, dispatcher, tracker, customer, contract):
        outages = await backend().outages_for(contract) + await OutageBook(get_redis()).active_in(
            contract.address.neighbourhood, contract.address.city)
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
