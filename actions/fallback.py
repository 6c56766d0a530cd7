"""``action_llm_fallback``: what the bot says when it did not understand.

The knowledge-base and LLM answer land with issue 6; this action already
handles the inputs NLU cannot (empty, emoji-only, very long) politely and
offers the main jobs and a person.
"""
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

# Messages longer than this are asked to be summarised rather than guessed at.
LONG_MESSAGE_CHARS = 1000

MAIN_JOBS = [
    {"title": "2a via / PIX", "payload": "/request_invoice"},
    {"title": "Estou sem internet", "payload": "/report_no_connection"},
    {"title": "Falar com atendente", "payload": "/request_human"},
]


def fallback_reply(text: Text) -> Text:
    """Pick the reply for a message NLU could not place."""
    stripped = (text or "").strip()
    if not stripped:
        return "Acho que sua mensagem chegou vazia. Me conta por escrito o que voce precisa?"
    if not any(char.isalnum() for char in stripped):
        return "Recebi! Pra eu te ajudar, me conta em palavras o que voce precisa."
    if len(stripped) > LONG_MESSAGE_CHARS:
        return "Sua mensagem ficou bem longa. Consegue me resumir em uma frase o que voce precisa?"
    return "Desculpa, nao entendi. Pode escrever de outro jeito ou escolher uma opcao:"


class ActionLlmFallback(Action):
    def name(self) -> Text:
        return "action_llm_fallback"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[Dict[Text, Any]]:
        text = tracker.latest_message.get("text") or ""
        dispatcher.utter_message(text=fallback_reply(text), buttons=MAIN_JOBS)
        # Forget the unclear turn so the dialogue goes on as if it never came.
        return [UserUtteranceReverted()]
