"""The short read cache in front of the demo ERP (a real SQLite file)."""
import asyncio
from datetime import date

from bot.isp.base import ContractStatus
from bot.isp.caching import CachingBackend
from bot.isp.demo import DemoBackend

JOAO = "11144477735"  # blocked for debt, trust unlock allowed


class CountingDemo(DemoBackend):
    calls = 0

    async def _rows(self, sql, *params):
        CountingDemo.calls += 1
        return await super()._rows(sql, *params)


def test_repeated_reads_hit_the_erp_once_and_a_write_is_seen_at_once(tmp_path):
    async def scenario():
        inner = CountingDemo(str(tmp_path / "demo.sqlite3"), today=date(2026, 11, 25))
        cached = CachingBackend(inner, ttl_seconds=60)
        customer = await cached.find_customer_by_document(JOAO)
        before = CountingDemo.calls
        for _ in range(3):
            await cached.find_customer_by_document(JOAO)
            contracts = await cached.list_contracts(customer.id)
        reads = CountingDemo.calls - before
        assert contracts[0].status is ContractStatus.BLOCKED_DEBT
        assert (await cached.trust_unlock(contracts[0].id)).allowed
        after = (await cached.list_contracts(customer.id))[0].status
        await cached.close()
        return reads, after

    reads, status_after_unlock = asyncio.run(scenario())
    assert reads == 1  # the contracts listing, once; the customer came from the cache
    assert status_after_unlock is ContractStatus.ACTIVE


def test_entries_expire(tmp_path):
    async def scenario():
        cached = CachingBackend(CountingDemo(str(tmp_path / "demo.sqlite3")), ttl_seconds=0.05)
        await cached.list_plans()
        before = CountingDemo.calls
        await asyncio.sleep(0.1)
        await cached.list_plans()
        await cached.close()
        return CountingDemo.calls - before

    assert asyncio.run(scenario()) == 1
