"""``action_handoff``: the customer asked for a person.

The desk (queue, atendente console, pausing the bot) lands with issue 5;
until then the action tells the customer how a person will reach them.
"""
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher


class ActionHandoff(Action):
    def name(self) -> Text:
        return "action_handoff"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(
            text=(
                "Certo, vou te passar para um de nossos atendentes. Nosso time "
                "humano atende de segunda a sexta das 8h as 20h e sabado das 8h "
                "as 14h; assim que alguem estiver livre, continua a conversa "
                "por aqui mesmo."
            )
        )
        return []
