"""Proactive messages in ``/metrics``: sent, skipped, failed and the webhook's
delivery statuses per campaign type, and the job queue's depth.

The job worker serves no ``/metrics``; as for the LLM figures it adds to a
Redis hash that every Rasa replica's ``GET /metrics`` reads at scrape time,
so the figures are cluster-wide (aggregate with ``max``, not ``sum``).
"""
from __future__ import annotations

import logging
from typing import Dict, Optional

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from redis.exceptions import RedisError

from bot.jobs.settings import job_settings
from bot.redis_pool import redis_key

logger = logging.getLogger(__name__)


def totals_key() -> str:
    return redis_key("metrics", "outreach")


def campaign_type(campaign: str) -> str:
    """``outage:d3:started`` -> ``outage``: a small fixed set of label values."""
    return campaign.split(":", 1)[0]


def count(pipe, campaign: str, outcome: str) -> None:
    """Queue one count of ``outcome`` (sent, failed, status_delivered...) on ``pipe``."""
    pipe.hincrby(totals_key(), f"{campaign_type(campaign)}|{outcome}", 1)


class _Snapshot:
    def __init__(self, totals: Dict[str, str], queued: int) -> None:
        self.totals = totals
        self.queued = queued

    def collect(self):
        messages = CounterMetricFamily(
            "isp_outreach_messages", "Proactive WhatsApp messages by campaign type and outcome "
            "(sent, skipped_opted_out, failed, gave_up, status_sent/delivered/read/failed), cluster-wide.",
            labels=["campaign_type", "outcome"])
        for field, value in sorted(self.totals.items()):
            kind, _, outcome = field.partition("|")
            messages.add_metric([kind, outcome], int(value))
        yield messages
        yield GaugeMetricFamily("isp_jobs_queued", "Jobs waiting or running in the job queue (bot/jobs/).",
                                value=self.queued)


async def collector(redis) -> Optional[_Snapshot]:
    """A one-off collector for ``/metrics``; ``None`` when Redis does not answer."""
    try:
        totals = await redis.hgetall(totals_key())
        queued = await redis.zcard(job_settings().queue_name)
    except (RedisError, OSError) as error:
        logger.warning("outreach metrics: cannot read from Redis: %s", error)
        return None
    return _Snapshot(totals, int(queued))
