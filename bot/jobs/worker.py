"""The jobs the worker runs, and arq's ``WorkerSettings`` for them.

An outage campaign is one fan-out job per (outage, phase) that lists the
area's customers through the ISP adapter and queues one send job per
customer (job id = campaign + customer, so a re-run queues nothing twice);
each send goes through :class:`bot.outreach.sender.TemplateSender`.

Billing reminders (bot/outreach/reminders.py) run daily from arq's cron
(REMINDER_TIME, REMINDER_WEEKDAYS; one run per schedule however many
workers): one fan-out job per day queues a send per invoice, and each send
checks the sending hours, that the invoice is still unpaid and the
customer's daily cap before the template goes.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Dict, Optional

from arq import Retry, cron

from bot.isp import create_backend
from bot.isp.base import DueInvoice, Invoice, InvoiceStatus
from bot.isp.caching import CachingBackend
from bot.isp.settings import IspSettings
from bot.jobs.queue import SERIALIZERS, arq_redis_settings
from bot.jobs.settings import job_settings
from bot.outreach.consent import Consent
from bot.outreach.outages import RESOLVED, STARTED, OutageBook, outage_campaign
from bot.outreach.reminders import due_dates, reminder_values, wait_for_window, within_daily_cap
from bot.outreach.sender import (
    DUPLICATE, InFlight, Throttled, TemplateSender, campaign_key, done_key, record_outcome,
)
from bot.outreach.settings import outreach_settings
from bot.outreach.templates import approved_templates
from bot.redis_pool import get_redis, redis_key
from channels.whatsapp.graph import GraphClient
from channels.whatsapp.settings import WhatsAppSettings

logger = logging.getLogger(__name__)


async def startup(ctx: Dict[str, Any]) -> None:
    settings = outreach_settings()
    isp = IspSettings.from_env()
    backend = create_backend(settings=isp)
    ctx["backend"] = CachingBackend(backend, isp.cache_seconds) if isp.cache_seconds > 0 else backend
    ctx["templates"] = approved_templates()
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
            {"outage_id": outage_id}, _job_id=redis_key("job", campaign, customer.customer_id)) is not None
    logger.info("jobs: %s: %d customers in %s, %d sends queued", campaign, len(customers), outage.area, queued)
    return queued


async def send_template(ctx: Dict[str, Any], campaign: str, customer_id: str, phone: str, template: str,
                        values: Dict[str, str], about: Optional[Dict[str, str]] = None) -> str:
    approved = ctx["templates"].get(template)
    context = dict(about or {}, text=approved.render(values), template=template)
    try:
        # Inside the job's own timeout, so a slow send is retried, not failed by arq.
        return await asyncio.wait_for(
            ctx["sender"].send_once(f"{campaign}:{customer_id}", phone, approved.message(values), campaign,
                                    context),
            timeout=max(1.0, job_settings().timeout_seconds * 0.8))
    except (InFlight, Throttled, asyncio.TimeoutError) as reason:
        tries = ctx.get("job_try", 1)
        if tries >= job_settings().max_tries:
            await record_outcome(ctx["store"], campaign, "gave_up")
            logger.error("jobs: %s:%s given up after %d tries (%s)", campaign, customer_id, tries, reason)
            return "gave_up"
        raise Retry(defer=min(60, 2 * tries)) from None


async def billing_reminders(ctx: Dict[str, Any], day_iso: Optional[str] = None) -> int:
    """Queue the reminders of ``day`` (default: today in REMINDER_TIMEZONE); how many."""
    settings = outreach_settings()
    day = date.fromisoformat(day_iso) if day_iso else datetime.now(settings.timezone).date()
    campaign = billing_campaign(day)
    targeted = queued = 0
    for due_date in sorted(due_dates(day, settings.reminder_offsets)):
        for due in await ctx["backend"].invoices_due_on(due_date):
            if not due.phone:
                continue
            targeted += 1
            queued += await ctx["redis"].enqueue_job(
                "send_reminder", campaign, day.isoformat(), due.customer_id, due.phone, due.name,
                due.invoice.id, due.invoice.contract_id, due.invoice.due_date.isoformat(), str(due.invoice.amount),
                _job_id=redis_key("job", campaign, due.invoice.id)) is not None
    await ctx["store"].hincrby(campaign_key(campaign), "targeted", queued)
    logger.info("jobs: %s: %d invoices to remind of, %d sends queued", campaign, targeted, queued)
    return queued


async def daily_reminders(ctx: Dict[str, Any]) -> int:
    """The cron entry: today's run (arq runs it once per schedule across workers)."""
    return await billing_reminders(ctx)


async def send_reminder(ctx: Dict[str, Any], campaign: str, day_iso: str, customer_id: str, phone: str,
                        name: str, invoice_id: str, contract_id: str, due_iso: str, amount: str) -> str:
    settings = outreach_settings()
    wait = wait_for_window(datetime.now(settings.timezone), settings.quiet_hours)
    if wait > 0:  # outside the sending hours: the job waits for them, it is not dropped
        raise Retry(defer=wait)
    backend, store = ctx["backend"], ctx["store"]
    key = f"{campaign}:{invoice_id}"
    if await store.exists(done_key(key)):
        return DUPLICATE
    open_ids = {invoice.id for invoice in await backend.list_open_invoices(contract_id)}
    if invoice_id not in open_ids:  # paid (or cancelled) since the run planned it
        await record_outcome(store, campaign, "skipped_paid", key=key, outcome="skipped_paid")
        return "skipped_paid"
    if not await within_daily_cap(store, date.fromisoformat(day_iso), customer_id, invoice_id,
                                  settings.daily_cap):
        await record_outcome(store, campaign, "skipped_daily_cap", key=key, outcome="skipped_daily_cap")
        return "skipped_daily_cap"
    invoice = Invoice(id=invoice_id, contract_id=contract_id, due_date=date.fromisoformat(due_iso),
                      amount=Decimal(amount), status=InvoiceStatus.OPEN)
    values = reminder_values(DueInvoice(invoice, customer_id, name, phone), await backend.pix_code(invoice_id))
    return await send_template(ctx, campaign, invoice_id, phone, settings.reminder_template, values,
                               {"invoice_id": invoice_id, "contract_id": contract_id})


def billing_campaign(day: date) -> str:
    return f"billing:{day.isoformat()}"


class WorkerSettings:
    """arq's worker settings, filled from the environment by :func:`worker_settings`."""

    functions = [outage_notices, send_template, billing_reminders, send_reminder]
    on_startup = startup
    on_shutdown = shutdown


def worker_settings() -> Dict[str, Any]:
    settings = job_settings()
    outreach = outreach_settings()
    daily = cron(daily_reminders, hour={outreach.reminder_time.hour}, minute={outreach.reminder_time.minute},
                 weekday=set(outreach.reminder_weekdays), run_at_startup=False, unique=True)
    return dict(functions=WorkerSettings.functions, on_startup=startup, on_shutdown=shutdown,
                cron_jobs=[daily], timezone=outreach.timezone,
                redis_settings=arq_redis_settings(), queue_name=settings.queue_name,
                max_jobs=settings.concurrency, job_timeout=settings.timeout_seconds,
                max_tries=settings.max_tries, keep_result=3600, handle_signals=True, **SERIALIZERS)


__all__ = ["RESOLVED", "STARTED", "outage_campaign", "worker_settings"]
