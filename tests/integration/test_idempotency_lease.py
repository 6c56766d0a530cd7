"""Idempotency keys when a replica dies mid-turn (channels/common/idempotency.py), real Redis.

The turn's process holds a lease it renews; a dead process' lease runs out and
a retry takes the key over (``recover=True``: look in the tracker first), with
the same message id; a live but slow one keeps its key.
"""
import asyncio

import pytest

from bot.errors import Conflict, InvalidInput
from channels.common.idempotency import Claim, Idempotency
from channels.common.settings import IdempotencySettings
from testing.redis_server import run_with_shared_client

LEASE = 1.0


@pytest.fixture
def keys(monkeypatch, redis_settings, key_prefix, redis_client):
    monkeypatch.setenv("REDIS_URL", redis_settings.url)
    monkeypatch.setenv("REDIS_KEY_PREFIX", key_prefix)
    return Idempotency(IdempotencySettings(ttl_seconds=60, wait_seconds=0.3, lease_seconds=LEASE))


def run(scenario):
    """``scenario()`` on a new loop, closing the shared client made for that loop."""
    return run_with_shared_client(scenario())


def test_a_key_whose_process_died_is_taken_over_with_recover(keys):
    async def scenario():
        name = keys._name("api:dead", "k-1")
        first = await keys._claim(name, "lease-of-the-dead", "print")  # then the process dies
        seen = []

        async def turn(claim):
            seen.append(claim)
            return ["answer"]

        with pytest.raises(Conflict):  # still within the dead one's lease: wait, then 409
            await keys.run("api:dead", "k-1", "print", turn)
        await asyncio.sleep(LEASE + 0.2)
        taken = await keys.run("api:dead", "k-1", "print", turn)
        replay = await keys.run("api:dead", "k-1", "print", turn)
        return first, seen, taken, replay

    first, seen, taken, replay = run(scenario)
    assert first == Claim(first.message_id) and first.message_id.startswith("idem-")
    assert seen == [Claim(first.message_id, recover=True)]
    assert taken.body == ["answer"] and not taken.replayed
    assert replay.body == ["answer"] and replay.replayed and len(seen) == 1


def test_a_live_turn_longer_than_the_lease_keeps_its_key(keys):
    async def scenario():
        runs = []

        async def slow(claim):
            runs.append(claim)
            await asyncio.sleep(LEASE * 2.5)  # renewed every LEASE / 3 meanwhile
            return ["slow answer"]

        first = asyncio.ensure_future(keys.run("api:slow", "k", "print", slow))
        await asyncio.sleep(LEASE * 1.5)
        with pytest.raises(Conflict):  # not taken over: the owner is alive
            await keys.run("api:slow", "k", "print", slow)
        done = await first
        again = await keys.run("api:slow", "k", "print", slow)
        return runs, done, again

    runs, done, again = run(scenario)
    assert runs == [Claim(runs[0].message_id)]
    assert done.body == again.body == ["slow answer"] and again.replayed


def test_a_failed_turn_leaves_the_key_to_a_fresh_retry(keys):
    async def scenario():
        claims = []

        async def failing(claim):
            claims.append(claim)
            raise RuntimeError("503 while draining")

        async def fine(claim):
            claims.append(claim)
            return ["ok"]

        with pytest.raises(RuntimeError):
            await keys.run("api:fail", "k", "print", failing)
        outcome = await keys.run("api:fail", "k", "print", fine)
        with pytest.raises(InvalidInput):
            await keys.run("api:fail", "k", "another message", fine)
        no_key = await keys.run("api:fail", None, "print", fine)
        return claims, outcome, no_key

    claims, outcome, no_key = run(scenario)
    assert [c.recover for c in claims] == [False, False, False]
    assert claims[0].message_id == claims[1].message_id and claims[2] == Claim()
    assert outcome.body == ["ok"] and not outcome.replayed and no_key.body == ["ok"]
