"""The once-only sender and the reminders' daily cap against the real Redis
(test db, the session's key prefix), with a recording stand-in for the Graph
client (the end-to-end runs with the real one are in tests/e2e/test_outreach.py)."""
import asyncio
from datetime import date
from types import SimpleNamespace

import pytest
from redis import asyncio as aioredis

from bot.outreach.consent import STOP, Consent
from bot.outreach.reminders import within_daily_cap
from bot.outreach.sender import DUPLICATE, INVALID, OPTED_OUT, SENT, TemplateSender, campaign_stats

MESSAGE = {"type": "template", "template": {"name": "aviso_normalizado", "language": {"code": "pt_BR"}}}


class RecordingGraph:
    settings = SimpleNamespace(phone_number_id="106540352242922")

    def __init__(self):
        self.sent = []

    async def send(self, to, body, phone_number_id=""):
        self.sent.append(to)
        return SimpleNamespace(message_id=f"wamid.{len(self.sent)}", error_code=None)


@pytest.fixture
def redis_url(monkeypatch, key_prefix, redis_settings, redis_client):
    monkeypatch.setenv("REDIS_KEY_PREFIX", key_prefix)
    return redis_settings.url


def run(redis_url, scenario):
    async def main():
        redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
        try:
            return await scenario(redis)
        finally:
            await redis.close()
    return asyncio.run(main())


def test_each_message_goes_once_and_bad_or_opted_out_numbers_are_counted_not_sent(redis_url):
    graph = RecordingGraph()

    async def scenario(redis):
        sender = TemplateSender(redis, graph, Consent(redis), messages_per_second=80, claim_seconds=5)
        await Consent(redis).apply("5511987650099", STOP, source="test")
        outcomes = [
            await sender.send_once("c1:ok", "+55 11 98765-0001", MESSAGE, "outage:t1:started"),
            await sender.send_once("c1:ok", "+55 11 98765-0001", MESSAGE, "outage:t1:started"),
            await sender.send_once("c1:bad", "ramal 123", MESSAGE, "outage:t1:started"),
            await sender.send_once("c1:bad", "ramal 123", MESSAGE, "outage:t1:started"),
            await sender.send_once("c1:out", "5511987650099", MESSAGE, "outage:t1:started"),
        ]
        return outcomes, await campaign_stats(redis, "outage:t1:started")

    outcomes, stats = run(redis_url, scenario)
    assert outcomes == [SENT, DUPLICATE, INVALID, DUPLICATE, OPTED_OUT]
    assert graph.sent == ["5511987650001"]  # normalised to E.164, sent once
    assert stats == {"sent": 1, "skipped_invalid_number": 1, "skipped_opted_out": 1}


def test_the_daily_cap_counts_each_invoice_once_per_customer_and_day(redis_url):
    day = date(2026, 12, 10)

    async def scenario(redis):
        return [
            await within_daily_cap(redis, day, "c7", "inv1", cap=2),
            await within_daily_cap(redis, day, "c7", "inv1", cap=2),  # a retried job: still the same one
            await within_daily_cap(redis, day, "c7", "inv2", cap=2),
            await within_daily_cap(redis, day, "c7", "inv3", cap=2),  # over the cap: refused, not counted
            await within_daily_cap(redis, day, "c8", "inv9", cap=2),  # another customer
            await within_daily_cap(redis, date(2026, 12, 11), "c7", "inv3", cap=2),  # the next day
            await within_daily_cap(redis, day, "c7", "inv2", cap=2),  # already counted: still allowed
        ]

    assert run(redis_url, scenario) == [True, True, True, False, True, True, True]
