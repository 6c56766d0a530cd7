"""Step-up check in the conversation: who must pass it, the code question, the gate.

The check is a slot of ``customer_id_form`` (``verification_code``) that
``validate_customer_id_form`` requires only when needed, so the rules and
stories around the form stay as they are. ``verified_document`` holds the
document that passed (a code, or a WhatsApp number Meta verified and the ERP
has on record); another document asks again. The jobs check it too
(:func:`refuse_unverified`), so a forged slot or a skipped form gets nothing.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from redis.exceptions import RedisError

from actions.backend import TALK_TO_HUMAN_BUTTON, backend
from bot.documents import mask_document
from bot.isp.base import BackendError, Customer
from bot.isp.settings import isp_settings
from bot.phones import phone_variants, whatsapp_number
from bot.redis_pool import get_redis
from bot.verification.codes import CodeStore
from bot.verification.delivery import CodeSender
from bot.verification.settings import StepUpSettings

logger = logging.getLogger(__name__)

WHATSAPP_CHANNEL = "whatsapp"
FAILED = "failed"  # verification_code after the last wrong try
PASSED = "ok"

CODE_SENT = (
    "Pra sua seguranca preciso confirmar que e voce. Se o {kind} estiver cadastrado, "
    "enviamos um codigo de 6 digitos para o WhatsApp ou o e-mail do cadastro. "
    "Me manda o codigo aqui (vale por {minutes} minutos). Se nao chegar, escreva *atendente*."
)
ASK_CODE = "Me manda o codigo de 6 digitos que enviamos (vale por {minutes} minutos)."
NOT_A_CODE = "O codigo tem 6 numeros. Me manda so os numeros, por favor."
WRONG_CODE = "Esse codigo nao confere. Voce ainda tem {tries} tentativa(s)."
EXPIRED_CODE = "Esse codigo expirou ou nao vale mais."
LOCKED = (
    "Nao consegui confirmar que e voce, entao por seguranca nao mostro dados do "
    "cadastro por aqui. Um atendente pode te ajudar."
)
NOT_VERIFIED = (
    "Pra sua seguranca, so mostro dados do contrato depois de confirmar o codigo "
    "que enviamos. Um atendente tambem pode te ajudar."
)
CANNOT_SEND = (
    "Nao consegui enviar o codigo de verificacao agora, desculpa. Tenta de novo em "
    "alguns minutos ou fala com um atendente."
)

_settings: Optional[StepUpSettings] = None
_sender: Optional[CodeSender] = None


def settings() -> StepUpSettings:
    global _settings
    if _settings is None:
        _settings = StepUpSettings.from_env()
    return _settings


# Read at import: a bad STEP_UP_* / SMTP_* value stops `rasa run actions` at
# start-up with a message naming the variable, not a customer's turn later.
settings()


def code_sender() -> CodeSender:
    global _sender
    if _sender is None:
        _sender = CodeSender(settings())
    return _sender


def codes() -> CodeStore:
    return CodeStore(get_redis(), settings())


def requested_action(tracker: Tracker) -> Optional[Text]:
    """The job that opened the form (``requested_service``), as an action name."""
    service = tracker.get_slot("requested_service")
    return f"action_{service}" if service else None


def step_up_required(tracker: Tracker, action: Optional[Text]) -> bool:
    """A typed document not verified in this conversation, for an action that needs it."""
    document = tracker.get_slot("customer_document")
    if not document or tracker.get_slot("verified_document") == document:
        return False
    return settings().applies_to(action)


def verified_whatsapp_number(tracker: Tracker) -> Optional[Text]:
    """The sender's number when Meta verified it: the message came through our
    WhatsApp connector (Rasa's REST webhook accepts any ``wa:`` sender id)."""
    if tracker.get_latest_input_channel() != WHATSAPP_CHANNEL:
        return None
    return whatsapp_number(tracker.sender_id)


def number_matches(customer: Customer, number: Optional[Text]) -> bool:
    if not number:
        return False
    ours = set(phone_variants(number))
    return any(ours & set(phone_variants(phone)) for phone in customer.phones if phone)


def demo_erp() -> bool:
    return isp_settings().is_demo


def minutes() -> int:
    return max(1, settings().code_ttl_seconds // 60)


async def refuse_unverified(
    dispatcher: CollectingDispatcher, tracker: Tracker, action: Text
) -> bool:
    """The gate of every job: True (and the customer told why) when the check is missing."""
    if not step_up_required(tracker, action):
        return False
    logger.info("Step-up: %s refused, document not verified in this conversation", action)
    if tracker.get_slot("verification_code") != FAILED:  # the form already said why
        dispatcher.utter_message(text=NOT_VERIFIED, buttons=[TALK_TO_HUMAN_BUTTON])
    return True


class ActionAskVerificationCode(Action):
    """Sends a code (once per live code) and asks for it, in the same words
    whether or not the document belongs to a customer."""

    def name(self) -> Text:
        return "action_ask_verification_code"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        document = tracker.get_slot("customer_document") or ""
        store = codes()
        try:
            if await store.pending(tracker.sender_id, document):
                dispatcher.utter_message(text=ASK_CODE.format(minutes=minutes()))
                return []
            code = await store.issue(tracker.sender_id, document)
            channel = "rate limited"
            if code:
                customer = await backend().find_customer_by_document(document)
                channel = await code_sender().send(customer, code) if customer else "no customer"
        except (RedisError, BackendError) as error:
            logger.warning("Step-up: code not issued (%s)", type(error).__name__)
            dispatcher.utter_message(text=CANNOT_SEND, buttons=[TALK_TO_HUMAN_BUTTON])
            return []
        logger.info("Step-up: code for %s: %s", mask_document(document), channel or "no contact")
        if code and channel == "" and demo_erp():
            # The demo ERP's customers are fictional and their numbers nobody's:
            # with no WhatsApp/SMTP configured (make run, make shell) the designer reads it here.
            logger.warning("Step-up (demo ERP, no WhatsApp or SMTP set up): the code for %s is %s",
                           mask_document(document), code)
        kind = "CNPJ" if len(document) == 14 else "CPF"
        dispatcher.utter_message(text=CODE_SENT.format(kind=kind, minutes=minutes()))
        return []
