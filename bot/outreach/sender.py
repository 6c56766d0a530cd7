"""One proactive message to one customer, at most once, within Meta's rate.

``send_once(key, ...)`` is what a campaign job calls per (campaign, customer,
phase): a done mark makes a repeated job (a restarted or second worker, a
re-enqueued campaign) a no-op; a short claim keeps two workers from sending
the same message at once and expires if the worker holding it dies before
sending, so the job's retry sends it (no miss). The only window for a
duplicate is a worker killed between Meta's 200 and the done mark.

Every send's Graph message id maps back to its campaign, so the webhook's
delivery statuses (sent, delivered, read, failed) are counted per campaign.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Dict, Optional

from bot.outreach import metrics
from bot.outreach.context import remember_sent
from bot.phones import whatsapp_e164
from bot.redis_pool import redis_key

logger = logging.getLogger(__name__)

DONE_TTL_SECONDS = 90 * 24 * 3600
# Meta's throughput errors: wait and try again (the Graph client already
# retried a few times with backoff before giving up).
THROTTLED = {130429, 131056, 131000, 1, 2, 4, 80007, None}
SENT, DUPLICATE, OPTED_OUT, FAILED, INVALID = "sent", "duplicate", "opted_out", "failed", "invalid_number"


class InFlight(Exception):
    """Another worker holds this message's claim; try again after it expires."""


class Throttled(Exception):
    """Meta asked us to slow down or did not answer; try again later."""


def campaign_key(campaign: str) -> str:
    return redis_key("outreach", "campaign", campaign)


def message_key(message_id: str) -> str:
    return redis_key("outreach", "message", message_id)


def done_key(key: str) -> str:
    """The mark that the message ``key`` (campaign + customer or invoice) is finished."""
    return redis_key("outreach", "done", key)


async def record_outcome(redis, campaign: str, *counters: str, key: Optional[str] = None,
                         outcome: str = "") -> None:
    """Count ``counters`` on the campaign (and in /metrics, but the per-code
    ``error:<code>`` ones); with ``key``, mark that message finished as ``outcome``."""
    pipe = redis.pipeline(transaction=False)
    if key is not None:
        pipe.set(done_key(key), outcome, ex=DONE_TTL_SECONDS)
    for counter in counters:
        pipe.hincrby(campaign_key(campaign), counter, 1)
        if not counter.startswith("error:"):
            metrics.count(pipe, campaign, counter)
    await pipe.execute()


class TemplateSender:
    def __init__(self, redis, graph, consent, messages_per_second: int, claim_seconds: int,
                 phone_number_id: str = "") -> None:
        self.redis = redis
        self.graph = graph
        self.consent = consent
        self.messages_per_second = messages_per_second
        self.claim_seconds = claim_seconds
        self.phone_number_id = phone_number_id or graph.settings.phone_number_id

    async def send_once(self, key: str, number: str, message: Dict[str, Any], campaign: str,
                        context: Optional[Dict[str, Any]] = None) -> str:
        """Send ``message`` once per ``key``; ``context`` (``text`` as read, plus what it is
        about) waits for the customer's reply (bot.outreach.context)."""
        if await self.redis.exists(done_key(key)):
            return DUPLICATE
        try:
            number = whatsapp_e164(number)
        except ValueError:  # the ERP's record is not a phone number: counted, never retried
            logger.warning("outreach: %s not sent, the number on record is not a phone number", key)
            await record_outcome(self.redis, campaign, "skipped_invalid_number", key=key, outcome=INVALID)
            return INVALID
        if await self.consent.opted_out(number):
            await record_outcome(self.redis, campaign, "skipped_opted_out", key=key, outcome=OPTED_OUT)
            return OPTED_OUT
        claim = redis_key("outreach", "claim", key)
        if not await self.redis.set(claim, "1", nx=True, ex=self.claim_seconds):
            raise InFlight(key)
        try:
            await self.rate_slot()
            sent = await self.graph.send(number, message, self.phone_number_id)
            if sent.message_id:
                await self.redis.set(message_key(sent.message_id), json.dumps({"campaign": campaign, "key": key}),
                                     ex=DONE_TTL_SECONDS)
                await record_outcome(self.redis, campaign, "sent", key=key, outcome=f"{SENT}:{sent.message_id}")
                if context:
                    context = dict(context)
                    await remember_sent(self.redis, number, context.pop("text"),
                                        dict(context, campaign=campaign, message_id=sent.message_id))
                return SENT
            if sent.error_code in THROTTLED:
                raise Throttled(f"Graph API code {sent.error_code}")
            logger.warning("outreach: %s not sent, Graph API code %s", key, sent.error_code)
            await record_outcome(self.redis, campaign, "failed", f"error:{sent.error_code}", key=key,
                                 outcome=f"{FAILED}:{sent.error_code}")
            return FAILED
        finally:
            await self.redis.delete(claim)

    async def rate_slot(self) -> None:
        """Wait for a slot of this number's per-second budget, shared by every worker."""
        while True:
            now = time.time()
            second = int(now)
            key = redis_key("outreach", "rate", self.phone_number_id, str(second))
            pipe = self.redis.pipeline(transaction=True)
            pipe.incr(key)
            pipe.expire(key, 2)
            count, _ = await pipe.execute()
            if count <= self.messages_per_second:
                return
            await asyncio.sleep(second + 1 - now)


async def record_status(redis, message_id: str, status: str, error_codes=()) -> Optional[str]:
    """Count a webhook delivery status against the campaign of a proactive
    message, once per (message, status) however often Meta repeats it.
    The campaign, or None for a message that was not proactive."""
    raw = await redis.get(message_key(message_id))
    if raw is None:
        return None
    campaign = json.loads(raw)["campaign"]
    first = await redis.set(redis_key("outreach", "status", message_id, status), "1", nx=True,
                            ex=DONE_TTL_SECONDS)
    if first:
        pipe = redis.pipeline(transaction=False)
        pipe.hincrby(campaign_key(campaign), f"status_{status}", 1)
        metrics.count(pipe, campaign, f"status_{status}")
        for code in error_codes or ():
            pipe.hincrby(campaign_key(campaign), f"status_error:{code}", 1)
        await pipe.execute()
    return campaign


async def campaign_stats(redis, campaign: str) -> Dict[str, int]:
    return {name: int(value) for name, value in (await redis.hgetall(campaign_key(campaign))).items()}
