"""Circuit breaker for the model, shared by every action-server replica via Redis.

After ``LLM_BREAKER_FAILURES`` consecutive failures or timeouts the breaker
opens for ``LLM_BREAKER_COOLDOWN_SECONDS``: nobody calls the model and
customers get the knowledge base at once instead of waiting for timeouts.
When the cool-down ends the next call is a trial: a success closes the
breaker, a failure opens it again straight away (the failure count is kept).
If Redis does not answer the breaker stays closed (the model is still tried,
bounded by its timeout) rather than refusing every answer.
"""
from __future__ import annotations

import logging

from redis.exceptions import RedisError

from bot.redis_pool import Atomic, redis_key

logger = logging.getLogger(__name__)


class Breaker:
    def __init__(self, redis, failures: int, cooldown_seconds: int):
        self.redis = redis
        self.failures = failures
        self.cooldown_seconds = cooldown_seconds

    @staticmethod
    def open_key() -> str:
        return redis_key("llm", "breaker", "open")

    @staticmethod
    def failures_key() -> str:
        return redis_key("llm", "breaker", "failures")

    async def allows(self) -> bool:
        try:
            return not await self.redis.exists(self.open_key())
        except (RedisError, OSError) as error:
            logger.warning("llm breaker: Redis unavailable, trying the model: %s", error)
            return True

    async def success(self) -> None:
        try:
            await self.redis.delete(self.failures_key())
        except (RedisError, OSError) as error:
            logger.warning("llm breaker: Redis unavailable: %s", error)

    async def failure(self) -> bool:
        """Count a failure; True when it opened the breaker."""
        try:
            count, _ = await (Atomic(self.redis).call("INCR", self.failures_key())
                              .call("EXPIRE", self.failures_key(), max(3600, 10 * self.cooldown_seconds))
                              .execute())
            if count >= self.failures:
                await self.redis.set(self.open_key(), count, ex=self.cooldown_seconds)
                logger.warning("llm breaker: open for %ss after %s consecutive failures",
                               self.cooldown_seconds, count)
                return True
        except (RedisError, OSError) as error:
            logger.warning("llm breaker: Redis unavailable: %s", error)
        return False
