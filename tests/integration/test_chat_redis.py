"""The REST/WebSocket rate limit and outbox against the real Redis (test db)
and a 3-master Redis Cluster (``redis_target``, with ``REDIS_CLUSTER=true``)."""
import asyncio
import json

import pytest

from bot.outbox import Outbox, live_channel
from bot.rate_limit import RateLimiter
from bot.redis_pool import subscriber_of


@pytest.fixture
def prefixed(monkeypatch, key_prefix, redis_target):
    monkeypatch.setenv("REDIS_KEY_PREFIX", key_prefix)
    monkeypatch.setenv("REDIS_CLUSTER", "true" if redis_target.cluster else "false")
    yield
    if redis_target.cluster:  # the single server's keys go with the session's prefix
        redis_target.delete_prefixed(key_prefix)


async def _client(redis_target):
    return redis_target.async_client()


def test_the_rate_limit_holds_under_concurrent_hits(prefixed, redis_target):
    async def scenario():
        redis = await _client(redis_target)
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


def test_outbox_ids_grow_and_after_returns_only_newer(prefixed, redis_target):
    async def scenario():
        redis = await _client(redis_target)
        pubsub = subscriber_of(redis).pubsub()
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
