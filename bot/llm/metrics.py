"""LLM token usage, latency and answer sources, counted in Redis.

The fallback runs in the action server, which serves no ``/metrics``; like
``bot.metrics.record_handoff`` it adds to a Redis hash that every Rasa
replica's ``GET /metrics`` reads at scrape time (:func:`collector`), so the
figures are cluster-wide (aggregate with ``max``, not ``sum``).
"""
from __future__ import annotations

import logging
from typing import Dict, Optional

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from redis.exceptions import RedisError

from bot.redis_pool import redis_key

logger = logging.getLogger(__name__)

BUCKETS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


def metrics_key() -> str:
    return redis_key("metrics", "llm")


async def record_call(redis, outcome: str, seconds: float = 0.0, prompt_tokens: int = 0,
                      completion_tokens: int = 0) -> None:
    """One model call: ``outcome`` ok, timeout, error or rejected (answer failed a check)."""
    try:
        async with redis.pipeline(transaction=False) as pipe:
            key = metrics_key()
            pipe.hincrby(key, f"calls:{outcome}", 1)
            pipe.hincrby(key, "tokens:prompt", prompt_tokens)
            pipe.hincrby(key, "tokens:completion", completion_tokens)
            pipe.hincrbyfloat(key, "seconds:sum", seconds)
            pipe.hincrby(key, "seconds:count", 1)
            for bound in BUCKETS:
                if seconds <= bound:
                    pipe.hincrby(key, f"seconds:le:{bound}", 1)
            await pipe.execute()
    except (RedisError, OSError) as error:
        logger.warning("llm metrics: not recorded: %s", error)


async def record_answer(redis, source: str) -> None:
    """Where a fallback answer came from: llm, knowledge, not_understood, handoff_offer, ..."""
    try:
        await redis.hincrby(metrics_key(), f"answers:{source}", 1)
    except (RedisError, OSError) as error:
        logger.warning("llm metrics: not recorded: %s", error)


class _Snapshot:
    def __init__(self, values: Dict[str, str]):
        self.values = values

    def _int(self, name: str) -> int:
        return int(float(self.values.get(name, 0)))

    def collect(self):
        calls = CounterMetricFamily("isp_llm_calls", "Calls to the LLM by outcome (from Redis).",
                                    labels=["outcome"])
        answers = CounterMetricFamily("isp_llm_fallback_answers",
                                      "Fallback answers by source (from Redis).", labels=["source"])
        for field in sorted(self.values):
            kind, _, label = field.partition(":")
            if kind == "calls":
                calls.add_metric([label], self._int(field))
            elif kind == "answers":
                answers.add_metric([label], self._int(field))
        tokens = CounterMetricFamily("isp_llm_tokens", "LLM tokens used (from Redis).",
                                     labels=["kind"])
        tokens.add_metric(["prompt"], self._int("tokens:prompt"))
        tokens.add_metric(["completion"], self._int("tokens:completion"))
        count = self._int("seconds:count")
        buckets = [(str(bound), self._int(f"seconds:le:{bound}")) for bound in BUCKETS]
        latency = HistogramMetricFamily("isp_llm_call_seconds", "LLM call latency (from Redis).",
                                        buckets=buckets + [("+Inf", count)],
                                        sum_value=float(self.values.get("seconds:sum", 0)))
        yield from (calls, answers, tokens, latency)


async def collector(redis) -> Optional[_Snapshot]:
    """A one-off collector for ``/metrics``; ``None`` when Redis does not answer."""
    try:
        values = await redis.hgetall(metrics_key())
    except (RedisError, OSError) as error:
        logger.warning("llm metrics: cannot read from Redis: %s", error)
        return None
    return _Snapshot(values)
