"""RedisTicketLockStore (bot/stores/lock.py) against real Redis: the shared
server and a 3-master Redis Cluster (``redis_target``: each test runs on both).

Timings are not asserted: the waiters poll only every 30 s here, so a test
that finishes at all shows they were woken by the release notice."""
from __future__ import annotations

import asyncio
import threading
import uuid
from typing import List

import pytest
from rasa.core.lock_store import LockError

from testing.redis_server import free_port
from bot.stores.errors import LockStoreUnavailable
from bot.stores.lock import RedisTicketLockStore

NO_POLL = 30  # wait_time_in_seconds: longer than any of these tests


@pytest.fixture
def prefix(redis_target) -> str:
    value = f"lk{uuid.uuid4().hex[:10]}"
    yield value
    redis_target.delete_prefixed(value)


def make_store(redis_target, prefix: str) -> RedisTicketLockStore:
    return RedisTicketLockStore(key_prefix=prefix, **redis_target.store_options())


def test_tickets_are_unique_across_replicas(redis_target, prefix):
    """Four 'replicas' (own store, own event loop, own thread) issue 50 tickets each at once."""
    tickets: List[int] = []
    guard = threading.Lock()

    def replica() -> None:
        store = make_store(redis_target, prefix)

        async def issue() -> List[int]:
            return list(await asyncio.gather(*(store._run("issue", "web:many", 60_000) for _ in range(50))))

        issued = asyncio.run(issue())
        with guard:
            tickets.extend(int(t) for t in issued)

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(tickets) == list(range(1, 201))


def test_one_turn_at_a_time_in_ticket_order(redis_target, prefix):
    store = make_store(redis_target, prefix)
    log: List[str] = []

    async def turn(n: int) -> None:
        await asyncio.sleep(n * 0.01)  # arrive in order 0..19
        async with store.lock("web:burst", wait_time_in_seconds=NO_POLL):
            log.append(f"start {n}")
            await asyncio.sleep(0.02)
            log.append(f"end {n}")

    async def scenario() -> None:
        # connect first (a cluster client discovers the slots on its first call):
        # the order under test is the order the tickets reach Redis
        await store._run("head", "web:warm-up", 0)
        await asyncio.wait_for(asyncio.gather(*(turn(n) for n in range(20))), 60)

    asyncio.run(scenario())
    assert log == [entry for n in range(20) for entry in (f"start {n}", f"end {n}")]
    assert not redis_target.client.exists(redis_target.key(prefix, "lock-queue", "web:burst"))


def test_waiters_on_another_replica_are_woken_by_the_release(redis_target, prefix):
    holder_store, waiter_store = make_store(redis_target, prefix), make_store(redis_target, prefix)
    order: List[str] = []
    acquired = threading.Event()

    def holder() -> None:
        async def run() -> None:
            async with holder_store.lock("wa:5511900000001"):
                acquired.set()
                await asyncio.sleep(0.5)
                order.append("holder done")

        asyncio.run(run())

    thread = threading.Thread(target=holder)
    thread.start()
    acquired.wait(10)

    async def wait() -> None:
        async with waiter_store.lock("wa:5511900000001", wait_time_in_seconds=NO_POLL):
            order.append("waiter in")

    asyncio.run(asyncio.wait_for(wait(), 20))
    thread.join()
    assert order == ["holder done", "waiter in"]


def test_a_dead_holders_ticket_expires(redis_target, prefix):
    store = make_store(redis_target, prefix)
    dead = store.issue_ticket("web:dead", lock_lifetime=1)  # issued, never renewed nor released
    assert store.get_lock("web:dead").now_serving == dead

    async def scenario() -> None:
        async with store.lock("web:dead", wait_time_in_seconds=NO_POLL) as lock:
            assert lock.now_serving == dead + 1

    asyncio.run(asyncio.wait_for(scenario(), 20))


def test_a_turn_longer_than_the_lifetime_keeps_the_lock_and_nobody_is_dropped(redis_target, prefix):
    store = make_store(redis_target, prefix)
    log: List[str] = []

    async def long_turn() -> None:
        async with store.lock("web:slow", lock_lifetime=1, wait_time_in_seconds=NO_POLL):
            log.append("long start")
            await asyncio.sleep(3.5)  # 3.5 lifetimes
            log.append("long end")

    async def later(n: int) -> None:
        await asyncio.sleep(0.2 + n * 0.05)
        async with store.lock("web:slow", lock_lifetime=1, wait_time_in_seconds=NO_POLL):
            log.append(f"later {n}")

    async def scenario() -> None:
        await asyncio.wait_for(asyncio.gather(long_turn(), *(later(n) for n in range(3))), 30)

    asyncio.run(scenario())
    assert log == ["long start", "long end", "later 0", "later 1", "later 2"]


def test_rasas_synchronous_interface(redis_target, prefix):
    store = make_store(redis_target, prefix)
    first = store.issue_ticket("web:sync")
    second = store.issue_ticket("web:sync")
    lock = store.get_lock("web:sync")
    assert [t.number for t in lock.tickets] == [first, second]
    assert lock.is_locked(second) and not lock.is_locked(first)
    store.finish_serving("web:sync", first)
    assert store.get_lock("web:sync").now_serving == second
    store.cleanup("web:sync", second)
    assert store.get_lock("web:sync") is None
    assert not store.is_someone_waiting("web:sync")


def test_unreachable_redis_is_a_lock_error():
    store = RedisTicketLockStore(url=f"redis://127.0.0.1:{free_port()}/0", socket_timeout="1")

    async def scenario() -> None:
        async with store.lock("web:down"):
            pass

    with pytest.raises(LockStoreUnavailable, match="lock store: Redis at 127.0.0.1") as raised:
        asyncio.run(scenario())
    assert isinstance(raised.value, LockError)
