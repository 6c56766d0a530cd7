"""Idempotency keys on inbound chat messages: a client's retry never gives a second turn.

A client that lost the answer to ``POST /api/v1/chat`` (or Rasa's REST
webhook, or a WebSocket frame) cannot know whether the bot took its message.
With an ``Idempotency-Key`` header (WebSocket: the frame's ``id``), the
first request claims the key in Redis (``SET NX``, per sender), runs the
turn and stores its answer for ``IDEMPOTENCY_TTL_SECONDS``; a retry with the
same key gets that stored answer, no second turn. A duplicate arriving while
the first still runs waits up to ``IDEMPOTENCY_WAIT_SECONDS`` for the answer,
then gets a 409. A turn that fails releases the key (the retry runs it).

A claim without an answer expires after :data:`PENDING_SECONDS`, so a replica
killed mid-turn does not block the key for a day. Without a key nothing
changes. WhatsApp needs none: it dedupes by ``wamid``.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Optional, Tuple

from redis.exceptions import RedisError

from bot.errors import Conflict, DependencyUnavailable, InvalidInput
from bot.redis_pool import get_redis, redis_key
from channels.common.errors import REDIS_DOWN
from channels.common.settings import IdempotencySettings, chat_settings

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
KEY_RULE = "1 to 128 visible ASCII characters (no spaces)"
_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")
# How long a claim lives without an answer: longer than any turn (the lock store's bound).
PENDING_SECONDS = 120
POLL_SECONDS = 0.1


def parse_key(value: Any, field: str = HEADER) -> Optional[str]:
    """``value`` when it is a valid key, ``None`` when absent; else InvalidInput naming ``field``."""
    if value is None:
        return None
    if not isinstance(value, str) or not _KEY.fullmatch(value):
        raise InvalidInput(field, f"must be {KEY_RULE}")
    return value


def fingerprint(*parts: Any) -> str:
    """What the request asked (message, metadata...): a reused key must ask the same."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Outcome:
    """The turn's answer, and whether it is the stored one of an earlier request."""

    body: Any
    replayed: bool


class Idempotency:
    """Claim, answer and replay of keys in Redis (``<prefix>:idempotency:<sha256(sender, key)>``)."""

    def __init__(self, settings: IdempotencySettings, field: str = HEADER) -> None:
        self.settings = settings
        self.field = field

    @staticmethod
    def _name(sender: str, key: str) -> str:
        digest = hashlib.sha256(f"{sender}\n{key}".encode()).hexdigest()
        return redis_key("idempotency", digest)

    async def run(self, sender: str, key: Optional[str], request_print: str,
                  turn: Callable[[], Awaitable[Any]]) -> Outcome:
        """``turn()`` once per ``(sender, key)``; without a key, simply ``turn()``."""
        if key is None:
            return Outcome(await turn(), False)
        name = self._name(sender, key)
        try:
            stored = await self._claim(name, request_print)
        except RedisError as error:
            logger.error("idempotency: Redis is not available: %s", error)
            raise DependencyUnavailable(REDIS_DOWN) from None
        if stored is not None:
            return Outcome(stored, True)
        try:
            body = await turn()
        except BaseException:
            await self._release(name)
            raise
        try:
            record = json.dumps({"fingerprint": request_print, "body": body}, ensure_ascii=False)
            await get_redis().set(name, record, ex=self.settings.ttl_seconds)
        except RedisError as error:  # the turn is done: answer it; a retry may repeat it
            logger.error("idempotency: answer not stored, Redis is not available: %s", error)
        return Outcome(body, False)

    async def _claim(self, name: str, request_print: str) -> Optional[Any]:
        """``None`` when the key is ours to run; else the stored answer (waiting for a running one)."""
        redis = get_redis()
        deadline = time.monotonic() + self.settings.wait_seconds
        while True:
            if await redis.set(name, json.dumps({"fingerprint": request_print}), nx=True, ex=PENDING_SECONDS):
                return None
            raw = await redis.get(name)
            record = json.loads(raw) if raw else None
            if record is not None:
                if record.get("fingerprint") != request_print:
                    raise InvalidInput(self.field, "was already used for a different message of this sender")
                if "body" in record:
                    return record["body"]
            if time.monotonic() >= deadline:
                raise Conflict(f"{self.field}: a request with this key is still being answered; "
                               "retry in a few seconds", self.field)
            await asyncio.sleep(POLL_SECONDS)

    async def _release(self, name: str) -> None:
        try:
            await get_redis().delete(name)
        except RedisError as error:  # the claim expires after PENDING_SECONDS anyway
            logger.error("idempotency: claim not released, Redis is not available: %s", error)


def idempotency(field: str = HEADER) -> Idempotency:
    return Idempotency(chat_settings().idempotency, field)
