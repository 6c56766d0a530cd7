"""Identification of the customer by CPF or CNPJ (``customer_id_form``).

Slots: ``customer_document``, then ``verification_code`` when the step-up
check applies (``actions.verification``), then ``contract_id`` when there
are several contracts. Until the check passes nothing tells whether the
document belongs to a customer: no name, no address, no "not found".
"""
import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict
from redis.exceptions import RedisError

from actions.backend import (
    TALK_TO_HUMAN_BUTTON,
    apologise,
    backend,
    contract_without_asking,
    customer_with_contracts,
)
from actions import verification
from actions.verification import (
    FAILED,
    PASSED,
    codes,
    number_matches,
    requested_action,
    step_up_required,
    verified_whatsapp_number,
)
from bot.documents import mask_document, only_digits, parse_document
from bot.formatting import intent_payload
from bot.isp.base import BackendError, Contract, ContractStatus
from bot.verification.codes import CODE_DIGITS, Outcome

logger = logging.getLogger(__name__)

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


def echo_if_heard(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """A CPF or code taken from a voice note is said back first ("Ouvi: ..."), so a
    wrong transcription is seen and corrected before it is used."""
    latest = tracker.latest_message or {}
    if (latest.get("metadata") or {}).get("transcribed") and latest.get("text"):
        dispatcher.utter_message(text=f'Ouvi: "{latest["text"]}"')


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

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        """The code only when the check applies, and the contract only after it."""
        if step_up_required(tracker, requested_action(tracker)):
            return ["customer_document", "verification_code"]
        return [slot for slot in domain_slots if slot != "verification_code"]

    async def extract_customer_document(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """On WhatsApp the phone Meta verified identifies the customer before any CPF is asked."""
        number = verified_whatsapp_number(tracker)
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
        # validate_customer_document marks it verified (the number is the customer's);
        # a slot extracted here but not required by the form would be dropped.
        return {"customer_document": customer.document}

    async def validate_customer_document(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        """A valid CPF/CNPJ, as digits; whether it is a customer's is said only
        after the step-up check, where it applies."""
        text = first_text(slot_value)
        echo_if_heard(dispatcher, tracker)
        document = parse_document(text)
        if document:
            return await self._identify(document, dispatcher, tracker)

        attempts = int(tracker.get_slot("document_attempts") or 0) + 1
        dispatcher.utter_message(text=INVALID_DOCUMENT if only_digits(text) else NO_DOCUMENT)
        if attempts >= MAX_ATTEMPTS_BEFORE_OFFERING_HUMAN:
            dispatcher.utter_message(text=OFFER_HUMAN)
        return {"customer_document": None, "document_attempts": attempts}

    async def _identify(self, document, dispatcher, tracker) -> Dict[Text, Any]:
        said_now = document.digits in only_digits(tracker.latest_message.get("text") or "")
        verified = tracker.get_slot("verified_document") == document.digits
        if not verified and verification.settings().applies_to(requested_action(tracker)):
            if not await self._whatsapp_owner(document.digits, tracker):
                # Same answer for every document: the code question comes next.
                return {
                    "customer_document": document.digits,
                    "customer_document_type": document.kind,
                    "customer_name": None,
                    "contract_id": None,
                    "verification_code": None,
                    "document_attempts": 0,
                }
            verified = True
        slots = await self._welcome(document.digits, dispatcher, tracker, greet=said_now)
        if slots.get("customer_document") and verified:
            slots["verified_document"] = document.digits
        return slots

    @staticmethod
    async def _whatsapp_owner(digits: Text, tracker: Tracker) -> bool:
        """A WhatsApp sender (number verified by Meta) typing their own document."""
        number = verified_whatsapp_number(tracker)
        if number is None:
            return False
        try:
            customer = await backend().find_customer_by_document(digits)
        except BackendError:
            return False  # the code path still works
        return customer is not None and number_matches(customer, number)

    async def _welcome(self, digits: Text, dispatcher, tracker, greet: bool) -> Dict[Text, Any]:
        """The customer found: greeting by first name and the contract (or the question)."""
        document = parse_document(digits)
        try:
            customer, contracts = await customer_with_contracts(digits)
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
        if greet:
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

    async def validate_verification_code(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        """The one-time code: right (welcome), wrong (tries left), expired (a new one), or locked."""
        text = first_text(slot_value)
        echo_if_heard(dispatcher, tracker)
        answer = only_digits(text)
        if len(answer) != CODE_DIGITS:
            if not parse_document(text):  # a CPF typed again is validate_customer_document's
                dispatcher.utter_message(text=verification.NOT_A_CODE)
            return {"verification_code": None}
        digits = tracker.get_slot("customer_document") or ""
        try:
            result = await codes().check(tracker.sender_id, digits, answer)
        except RedisError as error:
            logger.warning("Step-up: code not checked (%s)", type(error).__name__)
            dispatcher.utter_message(text=verification.CANNOT_SEND, buttons=[TALK_TO_HUMAN_BUTTON])
            return {"verification_code": None}
        masked = mask_document(digits)
        if result.outcome is Outcome.VERIFIED:
            logger.info("Step-up: %s verified by code", masked)
            slots = await self._welcome(digits, dispatcher, tracker, greet=True)
            return {**slots, "verification_code": PASSED, "verified_document": digits}
        if result.outcome is Outcome.WRONG:
            dispatcher.utter_message(text=verification.WRONG_CODE.format(tries=result.tries_left))
            return {"verification_code": None}
        if result.outcome is Outcome.EXPIRED:
            dispatcher.utter_message(text=verification.EXPIRED_CODE)
            return {"verification_code": None}
        logger.info("Step-up: %s not verified, tries used up", masked)
        dispatcher.utter_message(text=verification.LOCKED, buttons=[TALK_TO_HUMAN_BUTTON])
        return {"verification_code": FAILED}

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
                {"title": contract_label(c), "payload": intent_payload("inform_cpf", contract_id=c.id)}
                for c in contracts
            ],
        )
        return []
