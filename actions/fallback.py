"""``action_llm_fallback``: what the bot says when it did not understand.

Low NLU confidence (``nlu_fallback``) or ``out_of_scope`` lands here. Inputs
NLU cannot use (empty, emoji-only, very long) get a polite request to write
again; anything else is answered from the provider's knowledge base, through
the LLM when ``OPENAI_API_KEY`` is set (``bot.llm.responder``), streamed in
pieces to WebSocket and socket.io clients. When nothing fits: "nao entendi"
with the main jobs and an atendente. After ``DESK_AUTO_HANDOFF_FALLBACKS``
(2) in a row the next is not another guess: the customer is offered an
atendente (``DESK_AUTO_HANDOFF=offer``), handed to one (``handoff``, the
reason in the summary), or the bot keeps trying (``off``). Every fallback
message is logged (masked) for the designers (``python -m bot.llm
export-fallbacks``).
"""
import logging
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from redis.exceptions import RedisError

from actions.handoff import hand_off
from bot.desk.settings import desk_settings
from bot.llm import fallbacks, metrics
from bot.llm.responder import Responder
from bot.llm.streaming import partial_sender
from bot.redis_pool import get_redis

logger = logging.getLogger(__name__)

# Messages longer than this are asked to be summarised rather than guessed at.
LONG_MESSAGE_CHARS = 1000
HUMAN = {"title": "Falar com atendente", "payload": "/request_human"}
MAIN_JOBS = [
    {"title": "2a via / PIX", "payload": "/request_invoice"},
    {"title": "Estou sem internet", "payload": "/report_no_connection"},
    HUMAN,
]
OFFER_HUMAN = ("Acho que nao estou conseguindo te ajudar com isso por aqui. "
               "Quer falar com um atendente?")


def fallback_reply(text: Text) -> Text:
    """Pick the reply for a message NLU could not place (and nothing else answered)."""
    stripped = (text or "").strip()
    if not stripped:
        return "Acho que sua mensagem chegou vazia. Me conta por escrito o que voce precisa?"
    if not any(char.isalnum() for char in stripped):
        return "Recebi! Pra eu te ajudar, me conta em palavras o que voce precisa."
    if len(stripped) > LONG_MESSAGE_CHARS:
        return "Sua mensagem ficou bem longa. Consegue me resumir em uma frase o que voce precisa?"
    return "Desculpa, nao entendi. Pode escrever de outro jeito ou escolher uma opcao:"


def question_about_image(image: Dict[Text, Any]) -> Text:
    """A photo (``bot.media.understanding``): the customer's caption and what the vision
    model saw, asked like any question (knowledge base, grounded model)."""
    caption = str(image.get("caption") or "").strip()
    return f"{caption} [foto enviada pelo cliente: {str(image.get('description') or '').strip()}]".strip()


def answerable(text: Text) -> bool:
    """Worth looking up: words, and short enough to be one question."""
    stripped = (text or "").strip()
    return any(c.isalnum() for c in stripped) and len(stripped) <= LONG_MESSAGE_CHARS


def fallbacks_in_a_row(events: List[Dict[Text, Any]]) -> int:
    """How many customer messages right before the latest one went to this action."""
    firsts: List[Optional[Text]] = []  # first action after each user message, oldest first
    waiting = False
    for event in events:
        kind = event.get("event")
        if kind == "session_started":
            firsts, waiting = [], False
        elif kind == "user":
            firsts.append(None)
            waiting = True
        elif kind == "action" and waiting and event.get("name") != "action_listen":
            firsts[-1] = event.get("name")
            waiting = False
    count = 0
    for name in reversed(firsts[:-1]):  # the latest message is the one being answered
        if name != "action_llm_fallback":
            break
        count += 1
    return count


def top_intents(message: Dict[Text, Any], k: int = 3) -> List[Tuple[Text, float]]:
    ranking = message.get("intent_ranking") or []
    return [(i.get("name"), float(i.get("confidence") or 0)) for i in ranking[:k] if i.get("name")]


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
        image = (tracker.latest_message.get("metadata") or {}).get("image")
        if isinstance(image, dict) and image.get("description"):
            text = question_about_image(image)
        channel = tracker.get_latest_input_channel()
        in_a_row = fallbacks_in_a_row(tracker.events or [])
        settings = desk_settings()
        stuck = in_a_row >= settings.auto_handoff_fallbacks  # what happens then: DESK_AUTO_HANDOFF
        if stuck and settings.auto_handoff == "handoff":
            await self._record(text, tracker, "handoff", channel)
            return await hand_off(dispatcher, tracker, reason=f"o bot nao entendeu ({in_a_row + 1} vezes seguidas)")
        if stuck and settings.auto_handoff == "offer":
            source = "handoff_offer"
            dispatcher.utter_message(text=OFFER_HUMAN, buttons=[HUMAN] + MAIN_JOBS[:2])
        elif not answerable(text):
            source = "unusable_input"
            dispatcher.utter_message(text=fallback_reply(text), buttons=MAIN_JOBS)
        else:
            reply = await Responder.shared().answer(text, partial_sender(channel, tracker.sender_id))
            source = reply.source
            if reply.text:
                dispatcher.utter_message(text=reply.text, buttons=[HUMAN] if in_a_row else [])
            else:
                dispatcher.utter_message(text=fallback_reply(text), buttons=MAIN_JOBS)
            if reply.hits:
                logger.info("llm fallback: %s (%s, best %s %.3f)%s", source, channel,
                            reply.hits[0].passage.ref, reply.hits[0].score,
                            f" [{reply.note}]" if reply.note else "")
        await self._record(text, tracker, source, channel)
        # Forget the unclear turn so the dialogue goes on as if it never came.
        return [UserUtteranceReverted()]

    @staticmethod
    async def _record(text: Text, tracker: Tracker, source: Text, channel: Optional[Text]) -> None:
        redis = get_redis()
        try:
            await fallbacks.record(redis, text, top_intents(tracker.latest_message), source, channel)
        except (RedisError, OSError) as error:
            logger.warning("llm fallback: message not logged for review: %s", error)
        await metrics.record_answer(redis, source)
