"""Sales jobs: the plans on sale, a prospect's contact for a new installation, and choosing a plan.

A prospect is not in the ERP yet, so the lead form asks for name, address and
phone (the phone comes from WhatsApp when the customer writes from there) and
the backend records a lead with a protocol, as the SAC rules ask.
"""
import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.backend import apologise, backend
from actions.customer import first_text
from actions.details import valid_address
from bot.documents import only_digits
from bot.formatting import brl, intent_payload
from bot.isp.base import BackendError, Lead, Plan
from bot.phones import phone_variants, whatsapp_number

LEAD_SLOTS = ["lead_name", "lead_address", "lead_phone", "plan_speed"]
NAME_PATTERN = re.compile(r"^[^\W\d_]+(?:[ '.-][^\W\d_]+)+$")  # two words or more, letters only
NAME_PARTICLES = {"da", "das", "de", "do", "dos", "e"}


def proper_name(name: Text) -> Text:
    """'rita de souza' -> 'Rita de Souza' (Portuguese particles stay lowercase)."""
    return " ".join(
        word if word in NAME_PARTICLES and index else word.capitalize()
        for index, word in enumerate(name.lower().split())
    )


def whatsapp_phone(tracker: Tracker) -> Optional[Text]:
    """The phone of a WhatsApp sender (``wa:<wa_id>``), with the ninth digit."""
    number = whatsapp_number(tracker.sender_id)
    if number is None:
        return None
    variants = phone_variants(number)
    return max(variants, key=len) if variants and len(variants[0]) >= 12 else None


def parse_phone(text: Text) -> Optional[Text]:
    """A Brazilian phone with DDD (10 or 11 digits, optionally +55) -> digits."""
    digits = only_digits(text)
    if digits.startswith("55") and len(digits) in (12, 13):
        digits = digits[2:]
    if len(digits) not in (10, 11) or digits[0] == "0" or len(set(digits)) == 1:
        return None
    return digits


def parse_speed(text: Text) -> Optional[int]:
    """'500 mega', '1 giga', 'o de 700' -> Mbps."""
    match = re.search(r"(\d+(?:[.,]\d+)?)\s*(g|giga|gb)?", text.lower())
    if not match:
        return None
    number = float(match.group(1).replace(",", "."))
    return int(number * 1000) if match.group(2) else int(number)


def match_plan(text: Text, plans: List[Plan]) -> Optional[Plan]:
    """The plan on sale the customer named, by speed or by name."""
    speed = parse_speed(text)
    if speed:
        found = next((plan for plan in plans if plan.download_mbps == speed), None)
        if found:
            return found
    words = text.lower()
    return next((plan for plan in plans if plan.name.lower() in words), None)


class ActionAskLeadName(Action):
    def name(self) -> Text:
        return "action_ask_lead_name"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[Dict[Text, Any]]:
        if tracker.get_slot("requested_slot") != "lead_name":  # first time, not a retry
            dispatcher.utter_message(
                text="Que bom que voce quer ser nosso cliente! Vou anotar seus dados pra nossa equipe "
                     "confirmar a cobertura no seu endereco."
            )
        dispatcher.utter_message(text="Qual o seu nome completo?")
        return []


class ActionAskLeadAddress(Action):
    def name(self) -> Text:
        return "action_ask_lead_address"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(
            text="Qual o endereco da instalacao? Rua, numero, bairro e cidade (e o CEP se souber)."
        )
        return []


class ActionAskLeadPhone(Action):
    def name(self) -> Text:
        return "action_ask_lead_phone"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(text="Qual telefone com DDD a gente usa pra falar com voce?")
        return []


class ValidateLeadForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_lead_form"

    async def extract_lead_phone(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                 domain: DomainDict) -> Dict[Text, Any]:
        """On WhatsApp the number is already known: never ask it."""
        phone = whatsapp_phone(tracker)
        return {"lead_phone": phone} if phone and not tracker.get_slot("lead_phone") else {}

    def validate_lead_name(self, slot_value: Any, dispatcher: CollectingDispatcher,
                           tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        name = " ".join(first_text(slot_value).split())
        if not NAME_PATTERN.match(name) or len(name) > 120:
            dispatcher.utter_message(text="Me diz seu nome e sobrenome, por favor (ex.: Maria Souza).")
            return {"lead_name": None}
        return {"lead_name": proper_name(name)}

    def validate_lead_address(self, slot_value: Any, dispatcher: CollectingDispatcher,
                              tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        address = valid_address(first_text(slot_value))
        if address is None:
            dispatcher.utter_message(
                text="Preciso do endereco completo, com rua e numero (ex.: Rua das Palmeiras, 120, Centro)."
            )
        return {"lead_address": address}

    def validate_lead_phone(self, slot_value: Any, dispatcher: CollectingDispatcher,
                            tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        text = first_text(slot_value)
        phone = text if text == whatsapp_phone(tracker) else parse_phone(text)
        if phone is None:
            dispatcher.utter_message(text="Nao reconheci o telefone. Manda com DDD, ex.: 11 98765-4321.")
        return {"lead_phone": phone}


class ActionNewService(Action):
    """Records the lead in the ERP and gives the protocol."""

    def name(self) -> Text:
        return "action_new_service"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[Dict[Text, Any]]:
        lead = Lead(
            name=tracker.get_slot("lead_name") or "",
            phone=tracker.get_slot("lead_phone") or "",
            address=tracker.get_slot("lead_address") or "",
            plan=tracker.get_slot("plan_speed") or "",
        )
        try:
            protocol = await backend().open_lead(lead)
        except BackendError as error:
            return apologise(dispatcher, error)
        plan = f" no plano {lead.plan}" if lead.plan else ""
        dispatcher.utter_message(
            text=f"Prontinho, {lead.name.split()[0]}! Registrei seu interesse{plan}. Nossa equipe vai "
                 f"confirmar a cobertura no seu endereco e te chamar pra agendar a instalacao. "
                 f"Protocolo: {protocol}."
        )
        return [SlotSet("protocol", protocol)] + [SlotSet(slot, None) for slot in LEAD_SLOTS]


class ActionAskPlanSpeed(Action):
    """Which plan, with the plans on sale as buttons."""

    def name(self) -> Text:
        return "action_ask_plan_speed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[Dict[Text, Any]]:
        try:
            plans = await backend().list_plans()
        except BackendError as error:
            return apologise(dispatcher, error)
        dispatcher.utter_message(
            text="Pra qual plano voce quer mudar?",
            buttons=[
                {"title": f"{plan.name} - {brl(plan.price)}",
                 "payload": intent_payload("request_plan_change", plan_speed=plan.name)}
                for plan in plans
            ],
        )
        return []


class ValidatePlanForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_plan_form"

    async def extract_plan_speed(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                 domain: DomainDict) -> Dict[Text, Any]:
        """A free answer to the question ('o de 700', '1 giga') when NLU found no entity."""
        if tracker.get_slot("requested_slot") != "plan_speed" or tracker.get_slot("plan_speed"):
            return {}
        text = tracker.latest_message.get("text") or ""
        return {"plan_speed": text} if parse_speed(text) else {}

    async def validate_plan_speed(self, slot_value: Any, dispatcher: CollectingDispatcher,
                                  tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        try:
            plans = await backend().list_plans()
        except BackendError:  # keep what they said; the team reads it in the ticket
            return {"plan_speed": first_text(slot_value)[:60] or None}
        plan = match_plan(first_text(slot_value), plans)
        if plan is None:
            names = ", ".join(plan.name for plan in plans)
            dispatcher.utter_message(text=f"Esse plano nao temos. Os disponiveis sao: {names}.")
            return {"plan_speed": None}
        return {"plan_speed": plan.name}


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
