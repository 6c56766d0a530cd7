"""Numbered menus: choices that fit no WhatsApp button or list, answered by number.

The payloads of the last numbered menu sent to a customer are kept in Redis
(shared by every replica) until the customer's next message reads them.
"""
from __future__ import annotations

import json
import logging
from typing import List, Sequence, Text

from redis.exceptions import RedisError

from bot.redis_pool import get_redis, redis_key

logger = logging.getLogger(__name__)

# A numbered menu is answered in the next message or forgotten.
MENU_TTL_SECONDS = 24 * 3600


def _key(wa_id: Text) -> str:
    return redis_key("wa", "menu", wa_id)


async def remember_menu(wa_id: Text, payloads: Sequence[Text]) -> None:
    """Keep the payloads in menu order (a lost menu only means the number is read as text)."""
    try:
        await get_redis().set(_key(wa_id), json.dumps(list(payloads)), ex=MENU_TTL_SECONDS)
    except RedisError as error:
        logger.error("WhatsApp: numbered menu not saved (Redis: %s)", type(error).__name__)


async def take_menu(wa_id: Text) -> List[Text]:
    """The last numbered menu sent to the customer, forgotten once read."""
    try:
        raw = await get_redis().getdel(_key(wa_id))
    except RedisError as error:
        logger.error("WhatsApp: numbered menu not read (Redis: %s)", type(error).__name__)
        return []
    return json.loads(raw) if raw else []
