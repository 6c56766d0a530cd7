"""The REST/WebSocket rate limit and outbox against the real Redis (test db)."""
import asyncio
import json

import pytest
from redis import asyncio as aioredis

from bot.outbox import Outbox, live_channel
from bot.rate_limit import RateLimiter


@pytest.fixture
def prefixed(monkeypatch, key_prefix, redis_client):
    monkeypatch.setenv("REDIS_KEY_PREFIX", key_prefix)


async def _client(redis_settings):
    return aioredis.Redis.from_url(redis_settings.url, decode_responses=True)


def test_the_rate_limit_holds_under_concurrent_hits(prefixed, redis_settings):
    async def scenario():
        redis = await _client(redis_settings)
        limiter = RateLimiter(redis, 10, "test")
        now = 1_000_000.0
        results = await asyncio.gather(*(limiter.hit("api:burst", now) for _ in range(50)))
        other = await limiter.hit("api:someone-else", now)
        next_window = await limiter.hit("api:burst", now + 60)
        await redis.close()
        return results, other, next_window

    results, other, next_window = asyncio.run(scenario())
    assert results.count(None) == 10
    assert all(wait == 20 for wait in results if wait is not None)
    assert other is None and next_window is None


def test_outbox_ids_grow_and_after_returns_only_newer(prefixed, redis_settings):
    async def scenario():
        redis = await _client(redis_settings)
        pubsub = redis.pubsub()
        await pubsub.subscribe(live_channel("web:outbox-test"))
        await pubsub.get_message(timeout=1)  # the subscribe confirmation
        outbox = Outbox(redis, ttl_seconds=60, max_messages=100)
        first = await outbox.push("web:outbox-test", {"text": "um", "buttons": []}, publish=True)
        second = await outbox.push("web:outbox-test", {"text": "dois"})
        published = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
        everything = await outbox.after("web:outbox-test")
        newer = await outbox.after("web:outbox-test", first)
        await pubsub.reset()
        await redis.close()
        return first, second, published, everything, newer

    first, second, published, everything, newer = asyncio.run(scenario())
    assert [int(part) for part in second.split("-")] > [int(part) for part in first.split("-")]
    assert everything == [{"id": first, "text": "um", "buttons": []}, {"id": second, "text": "dois"}]
    assert newer == [{"id": second, "text": "dois"}]
    assert json.loads(published["data"]) == {"id": first, "message": {"text": "um", "buttons": []}}
