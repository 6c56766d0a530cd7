"""Identification of the customer by CPF or CNPJ (``customer_id_form``)."""
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from bot.documents import only_digits, parse_document

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
TALK_TO_HUMAN_BUTTON = {"title": "Falar com atendente", "payload": "/request_human"}


def first_text(value: Any) -> Text:
    """Slot candidates can arrive as a list when two extractors agree."""
    if isinstance(value, list):
        value = next((item for item in value if item), "")
    return str(value or "")


class ValidateCustomerIdForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_customer_id_form"

    def validate_customer_document(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        """Keep only a CPF/CNPJ with correct check digits, as digits."""
        text = first_text(slot_value)
        document = parse_document(text)
        if document:
            said_now = document.digits in only_digits(
                tracker.latest_message.get("text") or ""
            )
            if said_now:
                dispatcher.utter_message(
                    text=f"Obrigado! Recebi o {document.kind.upper()} {document.masked}."
                )
            return {
                "customer_document": document.digits,
                "customer_document_type": document.kind,
                "document_attempts": 0,
            }

        attempts = int(tracker.get_slot("document_attempts") or 0) + 1
        dispatcher.utter_message(text=INVALID_DOCUMENT if only_digits(text) else NO_DOCUMENT)
        if attempts >= MAX_ATTEMPTS_BEFORE_OFFERING_HUMAN:
            dispatcher.utter_message(text=OFFER_HUMAN)
        return {"customer_document": None, "document_attempts": attempts}



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
