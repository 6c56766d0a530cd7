"""``GET /health``: what this replica depends on, for load balancers and people.

Always answers 200 so a dashboard can read *why* a replica is degraded; a load
balancer should route on ``status == "healthy"``.
"""
from __future__ import annotations

import asyncio
import os
from typing import Any, Dict

import httpx
import rasa

import bot
from bot.redis_pool import get_redis
from bot.settings import env_float



def check_timeout_seconds() -> float:
    """Each dependency check gives up after this long (``HEALTH_CHECK_TIMEOUT_SECONDS``,
    default 0.08), so ``/health`` answers within ~100 ms even with Redis frozen."""
    return env_float("HEALTH_CHECK_TIMEOUT_SECONDS", 0.08, 0.001)


async def _redis() -> str:
    try:
        await asyncio.wait_for(get_redis().ping(), check_timeout_seconds())
        return "ok"
    except Exception:  # any failure is "unavailable"; the reason is in Redis' logs
        return "unavailable"


def action_health_url(webhook_url: str) -> str:
    """rasa-sdk serves ``/health`` beside ``/webhook``."""
    base = webhook_url.rstrip("/")
    if base.endswith("/webhook"):
        base = base[: -len("/webhook")]
    return f"{base}/health"


async def _action_server(agent: Any) -> str:
    endpoint = getattr(agent, "action_endpoint", None) if agent else None
    if endpoint is None or not endpoint.url:
        return "not_configured"
    try:
        async with httpx.AsyncClient(timeout=check_timeout_seconds()) as client:
            response = await asyncio.wait_for(
                client.get(action_health_url(endpoint.url)), check_timeout_seconds()
            )
        return "ok" if response.status_code == 200 else "unavailable"
    except (httpx.HTTPError, asyncio.TimeoutError):
        return "unavailable"


def _model(agent: Any) -> str:
    return "ok" if agent is not None and agent.is_ready() else "not_loaded"


def _llm() -> str:
    return "configured" if os.environ.get("OPENAI_API_KEY") else "not_configured"


async def health_report(app: Any) -> Dict[str, Any]:
    agent = getattr(app.ctx, "agent", None)
    redis, action_server = await asyncio.gather(_redis(), _action_server(agent))
    model = _model(agent)
    healthy = redis == "ok" and action_server in ("ok", "not_configured") and model == "ok"
    return {
        "status": "healthy" if healthy else "degraded",
        "redis": redis,
        "action_server": action_server,
        "model": model,
        "model_id": getattr(agent, "model_id", None) if model == "ok" else None,
        "llm": _llm(),
        "version": bot.__version__,
        "rasa_version": rasa.__version__,
    }
