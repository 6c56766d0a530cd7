"""The de-duplication record (channels/whatsapp/dedupe.py) against the real Redis."""
import uuid

import pytest
from redis.exceptions import RedisError

from channels.whatsapp import dedupe as whatsapp_dedupe


@pytest.fixture
def fresh_sync_client(monkeypatch):
    """The webhook's synchronous client, built again for this test's REDIS_* (then dropped)."""
    monkeypatch.setattr(whatsapp_dedupe, "_sync_client", None)
    yield
    monkeypatch.setattr(whatsapp_dedupe, "_sync_client", None)


@pytest.fixture
def dedupe(monkeypatch, redis_settings, key_prefix, redis_client, fresh_sync_client):
    monkeypatch.setenv("REDIS_URL", redis_settings.url)
    monkeypatch.setenv("REDIS_KEY_PREFIX", key_prefix)


def test_only_the_first_delivery_of_a_message_id_counts(dedupe, redis_client, key_prefix):
    first, second = f"wamid.{uuid.uuid4().hex}", f"wamid.{uuid.uuid4().hex}"
    assert whatsapp_dedupe.first_seen([("seen", first)]) == [True]
    assert whatsapp_dedupe.first_seen([("seen", first), ("seen", second), ("seen", second), ("failed", first)]) == [
        False, True, False, True]
    assert whatsapp_dedupe.first_seen([]) == []
    ttl = redis_client.ttl(f"{key_prefix}:wa:seen:{first}")
    assert 6 * 24 * 3600 < ttl <= 7 * 24 * 3600


def test_an_unreachable_redis_raises_and_holds_the_loop_briefly(monkeypatch, fresh_sync_client):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("REDIS_TIMEOUT_SECONDS", "5")
    with pytest.raises(RedisError):
        whatsapp_dedupe.first_seen([("seen", "wamid.x")])
    timeout = whatsapp_dedupe._sync().connection_pool.connection_kwargs["socket_timeout"]
    assert timeout == whatsapp_dedupe.SYNC_TIMEOUT_SECONDS  # capped below REDIS_TIMEOUT_SECONDS
