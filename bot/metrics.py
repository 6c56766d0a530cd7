"""Prometheus metrics shared by every channel, served at ``GET /metrics``.

Each Rasa replica counts its own turns in-process (Prometheus scrapes every
replica and sums). Handoffs happen in the action server or the desk, which
serve no ``/metrics``; they are counted in Redis instead
(:func:`record_handoff`), so ``isp_handoffs_total`` is the same cluster-wide
figure on every replica (aggregate it with ``max``, not ``sum``).

Channel labels are the connectors' names: ``whatsapp``, ``rest_api``,
``socketio``, ``websocket``, ``rest`` (Rasa's own), ``desk``.
"""
from __future__ import annotations

import logging
from typing import Dict, Iterable, Optional, Tuple

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily
from redis.exceptions import RedisError

from bot.llm import metrics as llm_metrics
from bot.outreach import metrics as outreach_metrics
from bot.redis_pool import redis_key

logger = logging.getLogger(__name__)

disable_created_metrics()  # the *_created series only double the scrape size

MESSAGES = Counter(
    "isp_messages_received",
    "Customer messages handed to the bot, by channel and predicted intent.",
    ["channel", "intent"],
)
BOT_MESSAGES = Counter(
    "isp_bot_messages_sent",
    "Bot messages delivered to customers, by channel.",
    ["channel"],
)
TURN_SECONDS = Histogram(
    "isp_turn_duration_seconds",
    "Time from receiving a customer message to the bot's last reply.",
    ["channel"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
ERRORS = Counter(
    "isp_errors",
    "Requests or turns that failed, by channel and kind "
    "(validation, unauthorized, rate_limited, unavailable, internal, delivery).",
    ["channel", "kind"],
)
UNEXPECTED = Counter(
    "isp_unexpected_errors",
    "Bugs caught where a customer's turn or a delivery must survive them "
    "(logged with their stack trace), by place.",
    ["where"],
)
CONNECTIONS = Gauge(
    "isp_open_connections",
    "Customer connections open on this process (WebSocket, socket.io).",
    ["channel"],
)

UNKNOWN_INTENT = "unknown"


def record_turn(channel: str, intent: Optional[str], seconds: float) -> None:
    """One customer message went through the bot (intent: a domain intent name)."""
    MESSAGES.labels(channel=channel, intent=intent or UNKNOWN_INTENT).inc()
    TURN_SECONDS.labels(channel=channel).observe(seconds)


def record_bot_message(channel: str) -> None:
    BOT_MESSAGES.labels(channel=channel).inc()


def record_error(channel: str, kind: str) -> None:
    ERRORS.labels(channel=channel, kind=kind).inc()


def record_unexpected(where: str) -> None:
    """A guard caught an exception it did not expect; the caller logs the stack."""
    UNEXPECTED.labels(where=where).inc()


def known_intent(name: Optional[str], intents: Iterable[str]) -> str:
    """The intent as a label, or ``unknown``: a customer can type ``/anything``,
    and labels must stay a small fixed set."""
    return name if name and name in intents else UNKNOWN_INTENT


def _handoffs_key() -> str:
    return redis_key("metrics", "handoffs")


async def record_handoff(redis, channel: str) -> None:
    """Count a conversation handed to a person (call from the handoff action/desk)."""
    await redis.hincrby(_handoffs_key(), channel, 1)


async def handoff_counts(redis) -> Optional[Dict[str, int]]:
    """Cluster-wide handoffs by channel; ``None`` when Redis does not answer."""
    try:
        counts = await redis.hgetall(_handoffs_key())
    except (RedisError, OSError) as error:
        logger.warning("metrics: cannot read handoff counts from Redis: %s", error)
        return None
    return {channel: int(value) for channel, value in counts.items()}


class _Snapshot:
    """A one-off collector for values read from Redis at scrape time."""

    def __init__(self, handoffs: Dict[str, int]):
        self.handoffs = handoffs

    def collect(self):
        family = CounterMetricFamily(
            "isp_handoffs",
            "Conversations handed to a person, cluster-wide (from Redis).",
            labels=["channel"],
        )
        for channel, count in sorted(self.handoffs.items()):
            family.add_metric([channel], count)
        yield family


async def render(redis) -> Tuple[bytes, str]:
    """The exposition text and its content type, for ``GET /metrics``."""
    body = generate_latest(REGISTRY)
    handoffs = await handoff_counts(redis)
    if handoffs is not None:
        extra = CollectorRegistry(auto_describe=False)
        extra.register(_Snapshot(handoffs))
        body += generate_latest(extra)
    llm = await llm_metrics.collector(redis)  # the action server's LLM fallback, via Redis
    if llm is not None:
        extra = CollectorRegistry(auto_describe=False)
        extra.register(llm)
        body += generate_latest(extra)
    outreach = await outreach_metrics.collector(redis)  # the job worker's campaigns, via Redis
    if outreach is not None:
        extra = CollectorRegistry(auto_describe=False)
        extra.register(outreach)
        body += generate_latest(extra)
    return body, CONTENT_TYPE_LATEST
