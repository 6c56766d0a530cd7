"""One-time codes in Redis: hashed, short-lived, few tries, few per document.

Keys (under ``REDIS_KEY_PREFIX``; each has one hash tag so Redis Cluster keeps
a conversation's or a document's keys together):

- ``stepup:{conv:<conversation>}:code``  hash ``digest``, ``document``, ``attempts``;
  TTL = the code's validity. The code itself is never stored.
- ``stepup:{doc:<document hash>}:sent``  codes sent for a document this hour
  (whatever the conversation): an attacker cycling conversations gets
  ``codes_per_hour * max_attempts`` guesses an hour out of a million.

A right code deletes both keys, so a customer who got in is not held back by
codes an attacker had requested before.
"""
from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Optional

from bot.redis_pool import Atomic, redis_key
from bot.verification.settings import StepUpSettings

CODE_DIGITS = 6
RATE_WINDOW_SECONDS = 3600

# Count a try only on a live code of this document (never recreate an expired key).
_COUNT_TRY = """
if redis.call('HGET', KEYS[1], 'document') ~= ARGV[1] then return nil end
return {redis.call('HINCRBY', KEYS[1], 'attempts', 1), redis.call('HGET', KEYS[1], 'digest')}
"""


class Outcome(enum.Enum):
    VERIFIED = "verified"
    WRONG = "wrong"  # tries are left
    LOCKED = "locked"  # the last try was wrong: the code is gone
    EXPIRED = "expired"  # no code for this conversation and document (expired or never sent)


@dataclass(frozen=True)
class Check:
    outcome: Outcome
    tries_left: int = 0


def document_tag(document: str) -> str:
    """A stable, non-reversible-at-a-glance name for a document in key names."""
    return hashlib.sha256(f"stepup-doc:{document}".encode()).hexdigest()[:32]


def _digest(conversation: str, document: str, code: str) -> str:
    return hashlib.sha256(f"{conversation}\0{document}\0{code}".encode()).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


class CodeStore:
    def __init__(self, redis, settings: StepUpSettings) -> None:
        self.redis = redis
        self.settings = settings

    @staticmethod
    def _code_key(conversation: str) -> str:
        return redis_key("stepup", "{conv:%s}" % conversation, "code")

    @staticmethod
    def _sent_key(document: str) -> str:
        return redis_key("stepup", "{doc:%s}" % document_tag(document), "sent")

    async def pending(self, conversation: str, document: str) -> bool:
        """A code for this document is live in this conversation."""
        stored = await self.redis.hget(self._code_key(conversation), "document")
        return stored == document_tag(document)

    async def issue(self, conversation: str, document: str) -> Optional[str]:
        """A new code for the conversation (replacing any earlier one), or None
        when the document already had ``codes_per_hour`` codes this hour."""
        sent_key = self._sent_key(document)
        # the window opens with the first code
        _, sent = await (Atomic(self.redis).call("SET", sent_key, 0, "EX", RATE_WINDOW_SECONDS, "NX")
                         .call("INCR", sent_key).execute())
        if sent > self.settings.codes_per_hour:
            return None
        code = new_code()
        key = self._code_key(conversation)
        await (Atomic(self.redis).call("DEL", key)
               .call("HSET", key, "digest", _digest(conversation, document, code),
                     "document", document_tag(document), "attempts", 0)
               .call("EXPIRE", key, self.settings.code_ttl_seconds).execute())
        return code

    async def check(self, conversation: str, document: str, answer: str) -> Check:
        """Count one try and compare in constant time."""
        key = self._code_key(conversation)
        counted = await self.redis.eval(_COUNT_TRY, 1, key, document_tag(document))
        if not counted:
            return Check(Outcome.EXPIRED)
        attempts, digest = int(counted[0]), counted[1]
        limit = self.settings.max_attempts
        if attempts <= limit and hmac.compare_digest(digest, _digest(conversation, document, answer)):
            await self.redis.delete(key, self._sent_key(document))
            return Check(Outcome.VERIFIED)
        if attempts >= limit:
            await self.redis.delete(key)
            return Check(Outcome.LOCKED)
        return Check(Outcome.WRONG, tries_left=limit - attempts)
