"""Identification of the customer by CPF or CNPJ (``customer_id_form``)."""
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.backend import (
    TALK_TO_HUMAN_BUTTON,
    apologise,
    backend,
    contract_without_asking,
    customer_with_contracts,
)
from bot.documents import only_digits, parse_document
from bot.isp.base import BackendError, Contract, ContractStatus
from bot.phones import whatsapp_number

# After this many invalid documents the bot offers a person on every retry.
MAX_ATTEMPTS_BEFORE_OFFERING_HUMAN = 2

ASK_DOCUMENT = (
    "Pra localizar seu cadastro, me informa o CPF ou CNPJ do titular do "
    "contrato (pode ser so os numeros)."
)
INVALID_DOCUMENT = (
    "Hmm, esse numero nao e um CPF ou CNPJ valido. Confere os digitos e me "
    "manda de novo, por favor (CPF tem 11 numeros, CNPJ tem 14)."
)
NO_DOCUMENT = "Pra continuar preciso do CPF ou CNPJ do titular (so os numeros ja servem)."
OFFER_HUMAN = (
    "Se preferir, escreva *atendente* que uma pessoa te ajuda a localizar o cadastro."
)
NOT_A_CUSTOMER_BUTTONS = [
    {"title": "Ver planos", "payload": "/ask_plans"},
    TALK_TO_HUMAN_BUTTON,
]


def contract_label(contract: Contract) -> Text:
    """How a contract is shown in a choice: its address and plan."""
    label = f"{contract.address.short()} ({contract.plan_name})"
    if contract.status is ContractStatus.CANCELLED:
        label += " - cancelado"
    return label


def first_text(value: Any) -> Text:
    """Slot candidates can arrive as a list when two extractors agree."""
    if isinstance(value, list):
        value = next((item for item in value if item), "")
    return str(value or "")


def pick_contract(text: Text, contracts: List[Contract]) -> Contract | None:
    """The contract the customer chose: by its id (the buttons) or its position."""
    digits = only_digits(text)
    by_id = next((c for c in contracts if c.id == digits), None)
    if by_id or not digits or len(digits) > 2:
        return by_id
    position = int(digits)
    return contracts[position - 1] if 1 <= position <= len(contracts) else None


class ValidateCustomerIdForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_customer_id_form"

    async def extract_customer_document(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """On WhatsApp the phone identifies the customer before any CPF is asked."""
        number = whatsapp_number(tracker.sender_id)
        if tracker.get_slot("customer_document") or number is None:
            return {}
        try:
            customer = await backend().find_customer_by_phone(number)
        except BackendError:
            return {}  # the CPF question still works
        if customer is None:
            return {}
        dispatcher.utter_message(
            text=f"Oi, {customer.first_name}! Encontrei seu cadastro pelo numero deste WhatsApp."
        )
        return {"customer_document": customer.document}

    async def validate_customer_document(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        """Keep only a valid CPF/CNPJ of a customer of the provider, as digits."""
        text = first_text(slot_value)
        document = parse_document(text)
        if document:
            return await self._identify(document, dispatcher, tracker)

        attempts = int(tracker.get_slot("document_attempts") or 0) + 1
        dispatcher.utter_message(text=INVALID_DOCUMENT if only_digits(text) else NO_DOCUMENT)
        if attempts >= MAX_ATTEMPTS_BEFORE_OFFERING_HUMAN:
            dispatcher.utter_message(text=OFFER_HUMAN)
        return {"customer_document": None, "document_attempts": attempts}

    async def _identify(self, document, dispatcher, tracker) -> Dict[Text, Any]:
        try:
            customer, contracts = await customer_with_contracts(document.digits)
        except BackendError as error:
            apologise(dispatcher, error)
            return {"customer_document": None}
        if customer is None:
            dispatcher.utter_message(
                text=(
                    f"Nao encontrei nenhum contrato com o {document.kind.upper()} "
                    f"{document.masked}. Confere o numero? Se ainda nao e cliente, "
                    "posso te mostrar os planos."
                ),
                buttons=NOT_A_CUSTOMER_BUTTONS,
            )
            return {"customer_document": None}

        said_now = document.digits in only_digits(tracker.latest_message.get("text") or "")
        if said_now:
            dispatcher.utter_message(
                text=f"Obrigado, {customer.first_name}! Localizei seu cadastro ({document.masked})."
            )
        chosen = tracker.get_slot("contract_id")
        if not any(c.id == chosen for c in contracts):
            default = contract_without_asking(contracts)
            chosen = default.id if default else None
        return {
            "customer_document": document.digits,
            "customer_document_type": document.kind,
            "customer_name": customer.first_name,
            "contract_id": chosen,
            "document_attempts": 0,
        }

    async def validate_contract_id(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        """The contract chosen among the customer's, by id (the buttons) or position."""
        try:
            _, contracts = await customer_with_contracts(tracker.get_slot("customer_document"))
        except BackendError as error:
            apologise(dispatcher, error)
            return {"contract_id": None}
        contract = pick_contract(first_text(slot_value), contracts)
        if contract is None:
            dispatcher.utter_message(text="Nao identifiquei qual contrato. Escolhe uma das opcoes, por favor.")
            return {"contract_id": None}
        return {"contract_id": contract.id}


class ActionAskCustomerDocument(Action):
    """The form's question, with a way out to a person (no data needed)."""

    def name(self) -> Text:
        return "action_ask_customer_document"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(text=ASK_DOCUMENT, buttons=[TALK_TO_HUMAN_BUTTON])
        return []


class ActionAskContractId(Action):
    """Several contracts: ask which one, one button per installation address."""

    def name(self) -> Text:
        return "action_ask_contract_id"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Dict[Text, Any]]:
        try:
            _, contracts = await customer_with_contracts(tracker.get_slot("customer_document"))
        except BackendError as error:
            return apologise(dispatcher, error)
        dispatcher.utter_message(
            text="Voce tem mais de um contrato. Sobre qual deles estamos falando?",
            buttons=[
                {"title": contract_label(c), "payload": f'/inform_cpf{{"contract_id": "{c.id}"}}'}
                for c in contracts
            ],
        )
        return []
