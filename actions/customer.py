"""Identification of the customer by CPF or CNPJ (``customer_id_form``)."""
from typing import Any, Dict, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from bot.documents import only_digits, parse_document

# After this many invalid documents the bot offers a person on every retry.
MAX_ATTEMPTS_BEFORE_OFFERING_HUMAN = 2


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
        if only_digits(text):
            dispatcher.utter_message(response="utter_invalid_document")
        else:
            dispatcher.utter_message(
                text="Pra continuar preciso do CPF ou CNPJ do titular (so os numeros ja servem)."
            )
        if attempts >= MAX_ATTEMPTS_BEFORE_OFFERING_HUMAN:
            dispatcher.utter_message(response="utter_invalid_document_offer_human")
        return {"customer_document": None, "document_attempts": attempts}

