"""The de-duplication record (channels/whatsapp/dedupe.py) against the real Redis."""
import asyncio
import os
import uuid

import pytest
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from channels.whatsapp import dedupe as whatsapp_dedupe


class Dedupe:
    """``first_seen`` called from a test, with a client for ``REDIS_URL`` as it is at the call."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def first_seen(self, keys):
        async def call():
            client = aioredis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=0.5,
                                             socket_connect_timeout=0.5)
            try:
                return await whatsapp_dedupe.first_seen(keys, client)
            finally:
                await client.close()

        return self.loop.run_until_complete(call())


@pytest.fixture
def dedupe(monkeypatch, redis_settings, key_prefix, redis_client):
    monkeypatch.setenv("REDIS_URL", redis_settings.url)
    monkeypatch.setenv("REDIS_KEY_PREFIX", key_prefix)
    checker = Dedupe()
    yield checker
    checker.loop.close()


def test_only_the_first_delivery_of_a_message_id_counts(dedupe, redis_client, key_prefix):
    first, second = f"wamid.{uuid.uuid4().hex}", f"wamid.{uuid.uuid4().hex}"
    assert dedupe.first_seen([("seen", first)]) == [True]
    assert dedupe.first_seen([("seen", first), ("seen", second), ("seen", second), ("failed", first)]) == [
        False, True, False, True]
    ttl = redis_client.ttl(f"{key_prefix}:wa:seen:{first}")
    assert 6 * 24 * 3600 < ttl <= 7 * 24 * 3600


def test_an_unreachable_redis_raises(dedupe, monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    with pytest.raises(RedisError):
        dedupe.first_seen([("seen", "wamid.x")])


@pytest.fixture
def fresh_sync_client(monkeypatch):
    """The webhook's synchronous client, built again for this test's REDIS_* (then dropped)."""
    monkeypatch.setattr(whatsapp_dedupe, "_sync_client", None)
    yield
    monkeypatch.setattr(whatsapp_dedupe, "_sync_client", None)


def test_the_webhooks_synchronous_claim_records_like_the_async_one(dedupe, fresh_sync_client, redis_client,
                                                                   key_prefix):
    first = f"wamid.{uuid.uuid4().hex}"
    assert whatsapp_dedupe.first_seen_now([("seen", first), ("seen", first)]) == [True, False]
    assert dedupe.first_seen([("seen", first)]) == [False]  # the same record, whichever client wrote it
    assert whatsapp_dedupe.first_seen_now([]) == []
    assert 6 * 24 * 3600 < redis_client.ttl(f"{key_prefix}:wa:seen:{first}") <= 7 * 24 * 3600


def test_the_synchronous_claim_raises_without_redis_and_holds_the_loop_briefly(monkeypatch, fresh_sync_client):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("REDIS_TIMEOUT_SECONDS", "5")
    with pytest.raises(RedisError):
        whatsapp_dedupe.first_seen_now([("seen", "wamid.x")])
    timeout = whatsapp_dedupe._sync().connection_pool.connection_kwargs["socket_timeout"]
    assert timeout == whatsapp_dedupe.SYNC_TIMEOUT_SECONDS  # capped below REDIS_TIMEOUT_SECONDS
