"""Details some jobs need before their ticket: visit period, new address."""
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.customer import first_text

PERIODS = {"manha": "manha (8h as 12h)", "tarde": "tarde (13h as 18h)"}
MIN_ADDRESS_CHARS = 10


def valid_address(text: Text) -> Text | None:
    """An address a technician can find: long enough and with a number."""
    address = " ".join(text.split())
    if len(address) < MIN_ADDRESS_CHARS or not any(char.isdigit() for char in address):
        return None
    return address[:300]


def parse_period(text: Text) -> Text | None:
    """'de manha', 'manhã', 'pela tarde', 'qualquer um' -> manha / tarde / None."""
    words = text.lower().replace("ã", "a")
    if "manha" in words or "cedo" in words:
        return "manha"
    if "tarde" in words:
        return "tarde"
    return None


class ActionAskVisitPeriod(Action):
    def name(self) -> Text:
        return "action_ask_visit_period"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(
            text="Qual periodo e melhor pra receber o tecnico?",
            buttons=[{"title": "Manha (8h-12h)", "payload": "manha"},
                     {"title": "Tarde (13h-18h)", "payload": "tarde"}],
        )
        return []


class ValidateVisitForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_visit_form"

    def validate_visit_period(self, slot_value: Any, dispatcher: CollectingDispatcher,
                              tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        period = parse_period(first_text(slot_value))
        if period is None:
            dispatcher.utter_message(text="Me diz se prefere de manha ou a tarde, por favor.")
        return {"visit_period": period}


class ActionAskNewAddress(Action):
    def name(self) -> Text:
        return "action_ask_new_address"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(
            text="Qual o endereco novo? Manda rua, numero, bairro e cidade (e o CEP se souber)."
        )
        return []


class ValidateAddressForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_address_form"

    def validate_new_address(self, slot_value: Any, dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        address = valid_address(first_text(slot_value))
        if address is None:
            dispatcher.utter_message(
                text="Preciso do endereco completo, com rua e numero (ex.: Rua das Palmeiras, 120, Centro)."
            )
        return {"new_address": address}
