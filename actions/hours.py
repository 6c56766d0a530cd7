"""``action_business_hours``: the atendentes' hours, from the same setting the desk uses.

One source of truth (``DESK_HOURS`` / ``DESK_HOLIDAYS``, bot/desk/hours.py):
what the bot tells a customer is what the handoff enforces.
"""
from datetime import datetime
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.desk.hours import TIMEZONE, BusinessHours
from bot.desk.settings import desk_settings

ALWAYS_HERE = "Aqui no chat eu atendo 24 horas: 2a via, PIX, desbloqueio e suporte."


def hours_reply(hours: BusinessHours, now: Optional[datetime] = None) -> Text:
    """The hours in pt-BR, whether a person is there now, and what the bot does anytime."""
    now = hours.local(now or datetime.now(tz=TIMEZONE))
    text = f"Nosso atendimento humano funciona {hours.describe()}, no horario de Brasilia."
    if hours.is_open(now):
        text += " Agora tem atendente disponivel."
    else:
        opening = hours.describe_next_opening(now)
        if opening:
            text += f" Agora estamos fora do horario; voltamos {opening}."
    return f"{text} {ALWAYS_HERE}"


class ActionBusinessHours(Action):
    def name(self) -> Text:
        return "action_business_hours"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(text=hours_reply(desk_settings().hours))
        return []
