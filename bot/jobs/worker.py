"""The jobs the worker runs, and arq's ``WorkerSettings`` for them.

An outage campaign is one fan-out job per (outage, phase) that lists the
area's customers through the ISP adapter and queues one send job per
customer (job id = campaign + customer, so a re-run queues nothing twice);
each send goes through :class:`bot.outreach.sender.TemplateSender`.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict

from arq import Retry

from bot.isp import create_backend
from bot.isp.caching import CachingBackend
from bot.isp.settings import IspSettings
from bot.jobs.queue import SERIALIZERS, arq_redis_settings
from bot.jobs.settings import job_settings
from bot.outreach.consent import Consent
from bot.outreach.outages import RESOLVED, STARTED, OutageBook, outage_campaign
from bot.outreach.sender import InFlight, Throttled, TemplateSender, campaign_key
from bot.outreach.settings import outreach_settings
from bot.outreach.templates import TemplateBook
from bot.redis_pool import get_redis, redis_key
from channels.whatsapp.graph import GraphClient
from channels.whatsapp.settings import WhatsAppSettings

logger = logging.getLogger(__name__)


async def startup(ctx: Dict[str, Any]) -> None:
    settings = outreach_settings()
    isp = IspSettings.from_env()
    backend = create_backend(settings=isp)
    ctx["backend"] = CachingBackend(backend, isp.cache_seconds) if isp.cache_seconds > 0 else backend
    ctx["templates"] = TemplateBook.load(settings.templates_file)
    ctx["graph"] = GraphClient(WhatsAppSettings.from_env())
    redis = get_redis()
    ctx["store"] = redis
    ctx["sender"] = TemplateSender(redis, ctx["graph"], Consent(redis), settings.messages_per_second,
                                   settings.claim_seconds)
    logger.info("jobs: worker ready on queue %s", job_settings().queue_name)


async def shutdown(ctx: Dict[str, Any]) -> None:
    await ctx["graph"].close()
    await ctx["backend"].close()


async def outage_notices(ctx: Dict[str, Any], outage_id: str, phase: str) -> int:
    """Queue one notice per customer of the outage's area; how many were queued."""
    outage = await OutageBook(ctx["store"]).get(outage_id)
    settings = outreach_settings()
    template = settings.outage_template if phase == STARTED else settings.outage_resolved_template
    customers = await ctx["backend"].customers_in_area(outage.neighbourhood, outage.city)
    campaign = outage_campaign(outage_id, phase)
    await ctx["store"].hset(campaign_key(campaign), "targeted", len([c for c in customers if c.phone]))
    queued = 0
    for customer in customers:
        if not customer.phone:
            continue
        values = {"customer_name": customer.name.split()[0] if customer.name else "cliente",
                  "area": outage.area, "description": outage.description,
                  "expected_end": outage.expected_end or "em breve"}
        queued += await ctx["redis"].enqueue_job(
            "send_template", campaign, customer.customer_id, customer.phone, template, values,
            _job_id=redis_key("job", campaign, customer.customer_id)) is not None
    logger.info("jobs: %s: %d customers in %s, %d sends queued", campaign, len(customers), outage.area, queued)
    return queued


async def send_template(ctx: Dict[str, Any], campaign: str, customer_id: str, phone: str, template: str,
                        values: Dict[str, str]) -> str:
    message = ctx["templates"].get(template).message(values)
    try:
        # Inside the job's own timeout, so a slow send is retried, not failed by arq.
        return await asyncio.wait_for(
            ctx["sender"].send_once(f"{campaign}:{customer_id}", phone, message, campaign),
            timeout=max(1.0, job_settings().timeout_seconds * 0.8))
    except (InFlight, Throttled, asyncio.TimeoutError) as reason:
        tries = ctx.get("job_try", 1)
        if tries >= job_settings().max_tries:
            await ctx["store"].hincrby(campaign_key(campaign), "gave_up", 1)
            logger.error("jobs: %s:%s given up after %d tries (%s)", campaign, customer_id, tries, reason)
            return "gave_up"
        raise Retry(defer=min(60, 2 * tries)) from None


class WorkerSettings:
    """arq's worker settings, filled from the environment by :func:`worker_settings`."""

    functions = [outage_notices, send_template]
    on_startup = startup
    on_shutdown = shutdown


def worker_settings() -> Dict[str, Any]:
    settings = job_settings()
    return dict(functions=WorkerSettings.functions, on_startup=startup, on_shutdown=shutdown,
                redis_settings=arq_redis_settings(), queue_name=settings.queue_name,
                max_jobs=settings.concurrency, job_timeout=settings.timeout_seconds,
                max_tries=settings.max_tries, keep_result=3600, handle_signals=True, **SERIALIZERS)


__all__ = ["RESOLVED", "STARTED", "outage_campaign", "worker_settings"]
