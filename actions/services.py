"""The jobs customers come for, run after ``customer_id_form`` identified them.

Until the ISP backend adapters land (issue 3) each action confirms what was
asked for, with the masked document, and offers a person. They are real
actions so the dialogue, rules and tests already have their final shape.
"""
from abc import ABC, abstractmethod
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.documents import mask_document


class PendingBackendAction(Action, ABC):
    """Base: acknowledge a request that the ERP integration will fulfil."""

    request: Text = ""

    @abstractmethod
    def name(self) -> Text:
        """Each job has its own action name (see ``PENDING_ACTIONS``)."""

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[Dict[Text, Any]]:
        document = tracker.get_slot("customer_document") or ""
        dispatcher.utter_message(
            text=(
                f"Anotei seu pedido de {self.request} para o cadastro "
                f"{mask_document(document)}. A consulta ao sistema do provedor "
                "ainda esta sendo ligada a este assistente; se precisar agora, "
                "escreva *atendente* que uma pessoa te ajuda."
            )
        )
        return []


def _pending(action_name: Text, request: Text) -> type:
    return type(
        "Action" + "".join(part.title() for part in action_name.split("_")[1:]),
        (PendingBackendAction,),
        {"name": lambda self: action_name, "request": request, "__module__": __name__},
    )


# (action name, what the customer asked for, as the bot says it back)
PENDING_ACTIONS = [
    _pending("action_invoice", "2a via da fatura"),
    _pending("action_payment_done", "baixa de pagamento"),
    _pending("action_trust_unlock", "desbloqueio de confianca"),
    _pending("action_no_connection", "verificacao da sua conexao (sem internet)"),
    _pending("action_slow_connection", "verificacao de lentidao na conexao"),
    _pending("action_outage", "consulta de manutencao na sua regiao"),
    _pending("action_wifi_password", "troca de senha do wi-fi"),
    _pending("action_plan_change", "mudanca de plano"),
    _pending("action_cancellation", "cancelamento"),
    _pending("action_address_change", "mudanca de endereco"),
    _pending("action_technical_visit", "visita tecnica"),
    _pending("action_ticket_status", "consulta de protocolo"),
    _pending("action_due_date_change", "troca da data de vencimento"),
]


class ActionListPlans(Action):
    """Plans on sale; the catalogue comes from the ERP in issue 3."""

    def name(self) -> Text:
        return "action_list_plans"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(
            text=(
                "Temos planos de fibra para casa e empresa. A tabela de planos e "
                "precos ainda esta sendo ligada a este assistente; um consultor "
                "te passa os valores atualizados."
            ),
            buttons=[
                {"title": "Falar com consultor", "payload": "/request_human"},
                {"title": "Quero contratar", "payload": "/request_new_service"},
            ],
        )
        return []
