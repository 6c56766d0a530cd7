"""Searching closed desk conversations on the real Redis (bot/desk/store.py).

Redis db 14, prefix ``benchsearch``, keys deleted afterwards. Files
--conversations closed conversations over 30 days (20 agents, one in ten
labelled ``bloqueado``, each with a protocol, a WhatsApp number and a
document) through the desk's own open/claim/close, then times each kind of
search (p50 and p95 over 20 runs, with how many it found).
Usage: .venv/bin/python bench/desk_search.py [--conversations 10000]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from redis import asyncio as aioredis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bot.desk import Desk  # noqa: E402
from bot.desk.users import Agent  # noqa: E402
from testing.latency import percentile  # noqa: E402

URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
PREFIX = "benchsearch"
DAY = 24 * 3600


async def clean(client) -> None:
    async for key in client.scan_iter(f"{PREFIX}*"):
        await client.delete(key)


async def main(total: int) -> None:
    client = aioredis.Redis.from_url(URL, decode_responses=True)
    await clean(client)
    desk = Desk.create(client, PREFIX)
    agents = [Agent(f"ag{n:02d}", f"Agente {n}", "atendente", False, 0.0, 0.0) for n in range(20)]
    start = time.time() - 30 * DAY
    try:
        began = time.perf_counter()

        async def file(n: int) -> None:
            at = start + n * (30 * DAY / total)
            conversation, _ = await desk.conversations.open(
                "whatsapp", f"wa:5511{900000000 + n}", "bench", customer_document=f"{10000000000 + n}",
                protocol=f"2026{n:010d}", labels=["bloqueado"] if n % 10 == 0 else [], now=at)
            await desk.conversations.claim(conversation.id, agents[n % 20], now=at + 60)
            await desk.conversations.close(conversation.id, agents[n % 20], "bench", now=at + 600)

        for first in range(0, total, 100):
            await asyncio.gather(*(file(n) for n in range(first, min(first + 100, total))))
        print(f"filed {total} closed conversations in {time.perf_counter() - began:.0f} s")

        middle = total // 2
        cases = {
            "protocol (1 match)": dict(protocol=f"2026{middle:010d}"),
            "phone (1 match)": dict(phone=f"+55 11 9{(900000000 + middle) % 10 ** 8:08d}"),
            "document (1 match)": dict(document=f"{10000000000 + middle}"),
            "agent (1 in 20)": dict(agent="ag07"),
            "label (1 in 10)": dict(label="bloqueado"),
            "agent + label": dict(agent="ag00", label="bloqueado"),
            "one day, no other filter": dict(since=start + 10 * DAY, until=start + 11 * DAY),
        }
        for name, filters in cases.items():
            times, found = [], 0
            for _ in range(20):
                t = time.perf_counter()
                found = len(await desk.conversations.search(**filters))
                times.append(time.perf_counter() - t)
            print(f"{name:<26} found {found:>5}   p50 {percentile(times, 50) * 1000:7.1f} ms"
                  f"   p95 {percentile(times, 95) * 1000:7.1f} ms")
    finally:
        await clean(client)
        await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    asyncio.run(main(parser.parse_args().conversations))
