"""Idempotency keys on inbound chat messages: a client's retry never gives a second turn.

A client that lost the answer to ``POST /api/v1/chat`` (or Rasa's REST
webhook, or a WebSocket frame) cannot know whether the bot took its message.
With an ``Idempotency-Key`` header (WebSocket: the frame's ``id``), the
first request claims the key in Redis (``SET NX``, per sender), runs the
turn and stores its answer for ``IDEMPOTENCY_TTL_SECONDS``; a retry with the
same key gets that stored answer, no second turn. A duplicate arriving while
the first still runs waits up to ``IDEMPOTENCY_WAIT_SECONDS`` for the answer,
then gets a 409. A turn that fails releases the key (the retry runs it).

Who runs a key's turn is a *lease* (``<record>:lease``, ``SET NX``) that the
running process renews every third of ``IDEMPOTENCY_LEASE_SECONDS``: a
replica killed mid-turn (SIGKILL, OOM) stops renewing, and a retry on another
replica takes the key over within that bound instead of waiting for the
record to expire. The taker-over cannot know whether the dead turn got as far
as saving the tracker, so its turn runs with ``recover=True``
(:class:`Claim`): the message carries a ``message_id`` derived from the key,
and ``channels.common.turn.run_turn`` first looks for it in the tracker
(under the conversation's lock) and replays that turn's answers instead of
running a second one. Without a key nothing changes. WhatsApp needs none: it
dedupes by ``wamid``.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
import uuid
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
POLL_SECONDS = 0.1
# Compare-and-renew / compare-and-delete of a lease (one key: Redis Cluster safe).
_RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


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
class Claim:
    """What a turn run under a key needs: the ``message_id`` to give its UserMessage
    (``None`` without a key: Rasa makes one) and whether it takes over a key whose
    first turn died (``recover``: look for that message in the tracker first)."""

    message_id: Optional[str] = None
    recover: bool = False


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

    @staticmethod
    def message_id(name: str) -> str:
        """The UserMessage id of a key's turn: the same on every replica and retry."""
        return "idem-" + name.rsplit(":", 1)[-1][:32]

    async def run(self, sender: str, key: Optional[str], request_print: str,
                  turn: Callable[[Claim], Awaitable[Any]]) -> Outcome:
        """``turn(claim)`` once per ``(sender, key)``; without a key, simply ``turn(Claim())``."""
        if key is None:
            return Outcome(await turn(Claim()), False)
        name = self._name(sender, key)
        lease = uuid.uuid4().hex
        try:
            claim = await self._claim(name, lease, request_print)
        except RedisError as error:
            logger.error("idempotency: Redis is not available: %s", error)
            raise DependencyUnavailable(REDIS_DOWN) from None
        if not isinstance(claim, Claim):
            return Outcome(claim, True)
        if claim.recover:
            logger.warning("idempotency: taking over a key whose turn died with its process (%s)",
                           claim.message_id)
        keeper = asyncio.ensure_future(self._keep_lease(name, lease))
        try:
            body = await turn(claim)
        except BaseException:
            await self._stop(keeper)
            await self._forget(name, lease)
            raise
        await self._stop(keeper)
        try:
            record = json.dumps({"fingerprint": request_print, "body": body}, ensure_ascii=False)
            await get_redis().set(name, record, ex=self.settings.ttl_seconds)
        except RedisError as error:  # the turn is done: answer it; a retry recovers it from the tracker
            logger.error("idempotency: answer not stored, Redis is not available: %s", error)
        await self._release(name, lease)
        return Outcome(body, False)

    async def _claim(self, name: str, lease: str, request_print: str) -> Any:
        """A :class:`Claim` when the key is ours to run; else the stored answer
        (waiting, up to ``wait_seconds``, while another live process runs it)."""
        redis = get_redis()
        lease_ms = int(self.settings.lease_seconds * 1000)
        deadline = time.monotonic() + self.settings.wait_seconds
        while True:
            if await redis.set(f"{name}:lease", lease, nx=True, px=lease_ms):
                fresh = json.dumps({"fingerprint": request_print})
                if await redis.set(name, fresh, nx=True, ex=self.settings.ttl_seconds):
                    return Claim(self.message_id(name))
                raw = await redis.get(name)
                record = json.loads(raw) if raw else None
                if record is None:  # the record expired in between: a first run after all
                    await redis.set(name, fresh, ex=self.settings.ttl_seconds)
                    return Claim(self.message_id(name))
                if record.get("fingerprint") != request_print:
                    await self._release(name, lease)
                    raise InvalidInput(self.field, "was already used for a different message of this sender")
                if "body" in record:
                    await self._release(name, lease)
                    return record["body"]
                # A record without an answer and nobody renewing its lease: its process died.
                return Claim(self.message_id(name), recover=True)
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

    async def _keep_lease(self, name: str, lease: str) -> None:
        """Renew our lease every third of its lifetime while the turn runs."""
        lease_ms = int(self.settings.lease_seconds * 1000)
        while True:
            await asyncio.sleep(self.settings.lease_seconds / 3)
            try:
                if not await get_redis().eval(_RENEW, 1, f"{name}:lease", lease, lease_ms):
                    logger.warning("idempotency: lease lost while the turn runs (event loop stalled "
                                   "over IDEMPOTENCY_LEASE_SECONDS?)")
                    return
            except RedisError as error:  # the turn itself will meet Redis' failure
                logger.error("idempotency: lease not renewed, Redis is not available: %s", error)

    @staticmethod
    async def _stop(keeper: "asyncio.Future[None]") -> None:
        keeper.cancel()
        try:
            await keeper
        except BaseException:  # cancelled (or ended): nothing to report
            pass

    async def _release(self, name: str, lease: str) -> None:
        try:
            await get_redis().eval(_RELEASE, 1, f"{name}:lease", lease)
        except RedisError as error:  # the lease expires after lease_seconds anyway
            logger.error("idempotency: lease not released, Redis is not available: %s", error)

    async def _forget(self, name: str, lease: str) -> None:
        """A failed turn: drop the record, then the lease, so the retry runs the turn."""
        try:
            await get_redis().delete(name)
        except RedisError as error:  # the lease expires; the retry then recovers from the tracker
            logger.error("idempotency: claim not released, Redis is not available: %s", error)
        await self._release(name, lease)


def idempotency(field: str = HEADER) -> Idempotency:
    return Idempotency(chat_settings().idempotency, field)
