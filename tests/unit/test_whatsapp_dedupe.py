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
