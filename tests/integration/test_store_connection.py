"""The one Redis connection factory (bot/stores/connection.py) against real Redis."""
import asyncio

from bot import redis_pool
from bot.stores import connection
from bot.stores.settings import RedisSettings


def test_shared_clients_answer_and_are_one_per_loop(monkeypatch, redis_settings, key_prefix):
    monkeypatch.setenv("REDIS_URL", redis_settings.url)
    monkeypatch.setenv("REDIS_KEY_PREFIX", key_prefix)
    monkeypatch.setenv("REDIS_MAX_CONNECTIONS", "3")
    monkeypatch.setattr(connection, "_clients", {})
    monkeypatch.setattr(connection, "_subscribers", {})
    assert redis_pool.get_redis is connection.get_redis  # the rest of bot/ uses the same factory

    async def scenario():
        client = redis_pool.get_redis()
        assert client is redis_pool.get_redis()
        key = redis_pool.redis_key("factory", "probe")
        assert key == f"{key_prefix}:factory:probe"
        await asyncio.gather(*(client.set(key, str(i), ex=10) for i in range(10)))  # waits for the 3
        assert await client.get(key) in {str(i) for i in range(10)}
        pool = client.connection_pool
        assert (pool.max_connections, pool.connection_kwargs["socket_timeout"]) == (3, 2.0)
        assert pool.connection_kwargs["db"] == redis_settings.db
        pubsub = redis_pool.get_subscriber_redis().pubsub()
        await pubsub.subscribe(key)
        await pubsub.close()
        await client.delete(key)

    asyncio.run(scenario())


def test_explicit_settings_win(redis_settings, monkeypatch):
    monkeypatch.setattr(connection, "_clients", {})
    settings = RedisSettings(redis_settings.host, redis_settings.port, redis_settings.db,
                             redis_settings.password, timeout_seconds=0.5)

    async def scenario():
        client = connection.get_redis(settings)
        assert await client.ping()
        assert client.connection_pool.connection_kwargs["socket_timeout"] == 0.5

    asyncio.run(scenario())
