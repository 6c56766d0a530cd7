"""An outage campaign to 10,000 customers by two job workers, against the
local Graph API, at the configured rate.

    .venv/bin/python bench/campaign.py [--customers 10000] [--workers 2] [--rate 80]

Starts a redis-server of its own, a demo ERP database with the seeded
customers plus ``--customers`` more in one area, the Graph API stand-in and
``--workers`` job workers (``python -m bot.jobs``); registers the outage as
the desk API does (bot.outreach.outages + the fan-out job) and waits until
every customer's notice is done. Prints the time to finish, messages per
second achieved against the limit, duplicates (a number that got two) and
misses (a customer of the area that got none).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testing.fakes import graph_api as graph_fake  # noqa: E402
from testing.fakes.graph_api import FakeGraphApi  # noqa: E402
from testing.processes import VENV_BIN, Service, project_env  # noqa: E402
from testing.redis_server import RedisServer  # noqa: E402

AREA = ("Parque Campanha", "Sao Paulo")


def demo_database(path: Path, customers: int) -> list:
    """The demo ERP's file with ``customers`` extra customers in AREA; their numbers."""
    from bot.isp.demo import DemoBackend

    DemoBackend(str(path))._db().close()  # schema and the usual seed
    phones = [f"55119{7000_0000 + n:08d}" for n in range(customers)]
    with sqlite3.connect(path) as db:
        for n, phone in enumerate(phones):
            customer = db.execute("INSERT INTO customers (name, document, phone, email) VALUES (?, ?, ?, '')",
                                  (f"Cliente {n}", f"bench{n:08d}", phone)).lastrowid
            db.execute("INSERT INTO contracts (customer_id, plan_name, status, neighbourhood, city, state, "
                       "due_day) VALUES (?, 'Fibra 500 Mega', 'active', ?, ?, 'SP', 10)", (customer, *AREA))
    return phones


async def start_campaign() -> str:
    from bot.jobs.queue import enqueue
    from bot.outreach.outages import STARTED, OutageBook, outage_campaign
    from bot.redis_pool import get_redis, redis_key

    outage = await OutageBook(get_redis()).create(*AREA, "bench", None, "bench")
    campaign = outage_campaign(outage.id, STARTED)
    await enqueue("outage_notices", outage.id, STARTED, job_id=redis_key("job", campaign))
    return campaign


async def stats(campaign: str) -> dict:
    from bot.outreach.sender import campaign_stats
    from bot.redis_pool import get_redis

    return await campaign_stats(get_redis(), campaign)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=int, default=80, help="OUTREACH_MESSAGES_PER_SECOND")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="campaign-bench-"))
    redis = RedisServer(work / "redis", appendonly=False).start()
    graph = FakeGraphApi(graph_fake.ACCESS_TOKEN).start()
    env = project_env(
        REDIS_URL=redis.url, REDIS_KEY_PREFIX="bench", ISP_BACKEND="demo", ISP_DEMO_DB=str(work / "demo.sqlite3"),
        WHATSAPP_API_URL=graph.url, WHATSAPP_ACCESS_TOKEN=graph_fake.ACCESS_TOKEN,
        WHATSAPP_PHONE_NUMBER_ID=graph_fake.PHONE_NUMBER_ID, OUTREACH_MESSAGES_PER_SECOND=str(args.rate),
    )
    os.environ.update(env)
    phones = demo_database(work / "demo.sqlite3", args.customers)
    workers = [Service(f"jobs-{n}", [str(VENV_BIN / "python"), "-m", "bot.jobs"], env, work).launch()
               for n in range(args.workers)]
    print(f"campaign: {args.customers} customers in {AREA[0]}, {args.workers} workers, "
          f"limit {args.rate} messages/s; logs in {work}", flush=True)
    try:
        time.sleep(3)  # the workers connect
        loop = asyncio.new_event_loop()
        started = time.monotonic()
        campaign = loop.run_until_complete(start_campaign())
        first = None
        while True:
            figures = loop.run_until_complete(stats(campaign))
            sent = figures.get("sent", 0)
            if first is None and sent:
                first = time.monotonic()
            finished_sends = sent + sum(figures.get(name, 0) for name in (
                "failed", "gave_up", "skipped_opted_out", "skipped_invalid_number"))
            if figures.get("targeted") and finished_sends >= figures["targeted"]:
                break
            if time.monotonic() - started > 3600:
                print("gave up waiting after an hour", file=sys.stderr)
                break
            time.sleep(0.5)
        finished = time.monotonic()
        received = Counter(r.to for r in graph.sent(kind="template"))
        wanted = set(phones)
        duplicates = sum(1 for phone, count in received.items() if count > 1)
        misses = len(wanted - set(received))
        print(f"stats: {figures}")
        print(f"finished in {finished - started:.1f} s ({finished - (first or started):.1f} s from the first send); "
              f"{sum(received.values()) / (finished - (first or started)):.1f} messages/s against a limit of "
              f"{args.rate}; duplicates {duplicates}, misses {misses} (of {len(wanted)} in the area)")
    finally:
        for worker in workers:
            worker.stop()
        graph.stop()
        redis.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
