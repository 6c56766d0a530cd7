"""The ISP backend as the actions see it: one per process, and the customer
and contract the identification form stored in slots."""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.isp import create_backend
from bot.isp.base import Contract, ContractStatus, Customer, IspBackend
from bot.isp.caching import CachingBackend
from bot.isp.settings import IspSettings

logger = logging.getLogger(__name__)

TALK_TO_HUMAN_BUTTON = {"title": "Falar com atendente", "payload": "/request_human"}

_backend: Optional[IspBackend] = None


def backend() -> IspBackend:
    global _backend
    if _backend is None:
        settings = IspSettings.from_env()
        _backend = create_backend(settings=settings)
        if settings.cache_seconds > 0:
            _backend = CachingBackend(_backend, settings.cache_seconds)
    return _backend


def apologise(dispatcher: CollectingDispatcher, error: Exception) -> List[Dict[Text, Any]]:
    """What the customer reads when the ERP fails: no stack trace, a way out."""
    logger.warning("ISP backend failed: %s", error)
    dispatcher.utter_message(
        text=(
            "Nao consegui consultar o sistema agora, desculpa. Tenta de novo em "
            "alguns minutos ou fala com um atendente."
        ),
        buttons=[TALK_TO_HUMAN_BUTTON],
    )
    return []


async def customer_with_contracts(
    document: Optional[Text],
) -> Tuple[Optional[Customer], List[Contract]]:
    """The customer with this CPF/CNPJ and all their contracts (None, [] if unknown)."""
    customer = await backend().find_customer_by_document(document) if document else None
    contracts = await backend().list_contracts(customer.id) if customer else []
    return customer, contracts


async def customer_and_contract(tracker: Tracker) -> Tuple[Optional[Customer], Optional[Contract]]:
    """The identified customer and chosen contract, read again from the ERP."""
    customer, contracts = await customer_with_contracts(tracker.get_slot("customer_document"))
    if customer is None:
        return None, None
    wanted = tracker.get_slot("contract_id")
    contract = next((c for c in contracts if c.id == wanted), None)
    return customer, contract or contract_without_asking(contracts)


def contract_without_asking(contracts: List[Contract]) -> Optional[Contract]:
    """The only live contract (or the only contract at all); None when there is a choice."""
    live = [c for c in contracts if c.status is not ContractStatus.CANCELLED]
    candidates = live or contracts
    return candidates[0] if len(candidates) == 1 else None
