"""Background work after the webhook's 200 (channels/whatsapp/turns.py): order per customer, failures counted."""
import asyncio

from prometheus_client import REGISTRY
from redis.exceptions import ConnectionError as RedisConnectionError

from channels.whatsapp.turns import CustomerQueue


def unexpected() -> float:
    return REGISTRY.get_sample_value("isp_unexpected_errors_total", {"where": "whatsapp_turn"}) or 0.0


def test_one_customer_in_order_others_side_by_side():
    done = []

    async def work(name, seconds):
        await asyncio.sleep(seconds)
        done.append(name)

    async def scenario():
        queue = CustomerQueue()
        queue.spawn("5511", work("a1", 0.05))
        queue.spawn("5522", work("b1", 0.01))
        queue.spawn("5511", work("a2", 0.0))
        await queue.drain(5)

    asyncio.run(scenario())
    assert done == ["b1", "a1", "a2"]


def test_a_bug_is_counted_a_dependency_failure_is_not(caplog):
    async def fail(error):
        raise error

    async def scenario():
        queue = CustomerQueue()
        queue.spawn("5511", fail(RuntimeError("bug")))
        queue.spawn("5522", fail(RedisConnectionError("down")))
        await queue.drain(5)
        await asyncio.sleep(0)  # done callbacks

    before = unexpected()
    asyncio.run(scenario())
    assert unexpected() == before + 1
    assert sum("could not be handled" in r.message and r.exc_info is not None for r in caplog.records) == 2
