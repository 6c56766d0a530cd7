"""``GET /health``, ``/health/live``, ``/health/ready`` and ``GET /metrics``: public status, operators' detail.

``/health`` answers 200 with ``{"status": "healthy"|"degraded"}`` to anyone
(a load balancer routes on it). The two probes replicas need (Kubernetes,
nginx): ``/health/live`` is 200 ``{"status": "alive"}`` with no dependency
checked (a restart would not fix Redis), ``/health/ready`` is 503
``{"status": "not_ready"}`` with ``Retry-After`` while the model is not
loaded or Redis / the action server does not answer (take this replica out
of rotation) or the server is draining after SIGTERM, 200 ``{"status": "ready"}``
otherwise; bounded like ``/health``. The dependency detail (Redis, action server,
model, versions) and ``/metrics`` (Prometheus) want ``Authorization: Bearer
$METRICS_TOKEN``: they tell an attacker what runs where. With
``METRICS_TOKEN`` unset, ``/metrics`` and the detail are closed to everyone
(secure by default); a wrong token is a 401 so a scraper's mistake shows.

Creating these routes (``register``) also runs the start-up checks of the
Rasa server (bot.settings.check_rasa_server) and sets the process up (our
loggers at Rasa's level: ``logs.py``; Sanic workers' signals: ``workers.py``):
our connectors are the only code of ours that runs when ``rasa run`` starts.
"""
from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any, Dict, Optional

import httpx
import rasa
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

import bot
from bot import metrics
from bot.errors import Unauthorized
from bot.redis_pool import get_redis
from bot.settings import check_rasa_server
from channels.common.drain import DRAIN, drain_on_stop
from channels.common.errors import error_response
from channels.common import logs, workers
from channels.common.http import as_handler, bearer_matches
from channels.common.settings import HealthSettings, chat_settings

logger = logging.getLogger(__name__)


def _forget(task: asyncio.Task) -> None:
    """Let a check that outlived its bound finish on its own, its error unread."""
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
    task.cancel()


async def _bounded(check, timeout: float) -> bool:
    """Whether ``check`` succeeded within ``timeout``. Unlike ``asyncio.wait_for``,
    this does not wait for the check to *handle* its cancellation: a redis-py
    call on a frozen server can take its whole socket timeout to give up."""
    task = asyncio.ensure_future(check)
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        _forget(task)
        return False
    return task.exception() is None


async def _redis(timeout: float) -> str:
    # any failure is "unavailable"; the reason is in Redis' logs
    return "ok" if await _bounded(get_redis().ping(), timeout) else "unavailable"


def action_server_url(webhook_url: str, path: str) -> str:
    """rasa-sdk serves ``/health`` and ``/actions`` beside ``/webhook``."""
    base = webhook_url.rstrip("/")
    if base.endswith("/webhook"):
        base = base[: -len("/webhook")]
    return f"{base}{path}"


async def _action_server(agent: Any, timeout: float) -> str:
    """``GET /actions`` with the headers Rasa sends (ACTION_SERVER_TOKEN): a token
    that does not match the action server's shows here as "unauthorized"."""
    endpoint = getattr(agent, "action_endpoint", None) if agent else None
    if endpoint is None or not endpoint.url:
        return "not_configured"
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await asyncio.wait_for(
                client.get(action_server_url(endpoint.url, "/actions"), headers=endpoint.headers or {}),
                timeout,
            )
    except (httpx.HTTPError, asyncio.TimeoutError):
        return "unavailable"
    if response.status_code == 401:
        return "unauthorized"
    return "ok" if response.status_code == 200 else "unavailable"


def _model(agent: Any) -> str:
    return "ok" if agent is not None and agent.is_ready() else "not_loaded"


async def dependency_checks(app: Any, settings: HealthSettings) -> Dict[str, str]:
    """Redis, the action server and the model, each within the check bound."""
    agent = getattr(app.ctx, "agent", None)
    timeout = settings.check_timeout_seconds
    redis, action_server = await asyncio.gather(_redis(timeout), _action_server(agent, timeout))
    return {"redis": redis, "action_server": action_server, "model": _model(agent)}


def all_ok(checks: Dict[str, str]) -> bool:
    """Whether a turn can run: Redis and the model ok, the action server ok or not used."""
    return (checks["redis"] == "ok" and checks["action_server"] in ("ok", "not_configured")
            and checks["model"] == "ok")


async def health_report(app: Any, settings: HealthSettings) -> Dict[str, Any]:
    agent = getattr(app.ctx, "agent", None)
    checks = await dependency_checks(app, settings)
    redis, action_server, model = checks["redis"], checks["action_server"], checks["model"]
    healthy = all_ok(checks)
    return {
        "status": "healthy" if healthy else "degraded",
        "redis": redis,
        "action_server": action_server,
        "model": model,
        "model_id": getattr(agent, "model_id", None) if model == "ok" else None,
        "llm": "configured" if settings.llm_configured else "not_configured",
        "version": bot.__version__,
        "rasa_version": rasa.__version__,
    }


# Seconds a load balancer should wait before asking a not-ready replica again.
READY_RETRY_AFTER = "5"


class Health:
    """``/health`` and ``/health/ready`` (status for all, detail with the token),
    ``/health/live`` (for all) and ``/metrics`` (token only)."""

    def __init__(self, settings: HealthSettings) -> None:
        self.settings = settings

    def _unauthorized(self) -> HTTPResponse:
        detail = ("Authorization: Bearer <METRICS_TOKEN> is required" if self.settings.metrics_token
                  else "METRICS_TOKEN is not set on this server: /metrics and the /health detail are off")
        return error_response(Unauthorized(detail))

    async def health(self, request: Request) -> HTTPResponse:
        allowed = bearer_matches(request, (self.settings.metrics_token,))
        if allowed is False:
            return self._unauthorized()
        report = await health_report(request.app, self.settings)
        return response.json(report if allowed else {"status": report["status"]})

    async def live(self, request: Request) -> HTTPResponse:
        """The process answers HTTP: nothing else is checked (no Redis, no model)."""
        return response.json({"status": "alive"})

    async def ready(self, request: Request) -> HTTPResponse:
        """200 when this replica can run a turn now; 503 + ``Retry-After`` otherwise.

        A status, not an error: the body is ``{"status"}`` like ``/health``
        (the checks too with ``METRICS_TOKEN``), not the ``{"detail"}`` of errors.
        """
        allowed = bearer_matches(request, (self.settings.metrics_token,))
        if allowed is False:
            return self._unauthorized()
        checks = await dependency_checks(request.app, self.settings)
        ready = all_ok(checks) and not DRAIN.draining
        body: Dict[str, Any] = {"status": "ready" if ready else "not_ready"}
        if allowed:
            body.update(checks)
        if ready:
            return response.json(body)
        return response.json(body, status=503, headers={"Retry-After": READY_RETRY_AFTER})

    async def prometheus(self, request: Request) -> HTTPResponse:
        if not bearer_matches(request, (self.settings.metrics_token,)):
            return self._unauthorized()
        body, content_type = await metrics.render(get_redis())
        return response.raw(body, content_type=content_type)


def register(bp: Blueprint) -> None:
    """Check the server's secrets (refuse to start), set up the process (our log levels,
    Sanic workers' signals), then add /health (+ live, ready) and /metrics."""
    for warning in check_rasa_server(sys.argv):
        logger.warning("SECURITY: %s", warning)
    logs.follow_rasa_level()  # the model load sets the root logger to WARNING
    workers.install()  # a SIGTERM while a worker still loads the model must stop it
    routes = Health(chat_settings().health)
    bp.add_route(as_handler(routes.health), "/health", methods=["GET"])
    bp.add_route(as_handler(routes.live), "/health/live", methods=["GET"])
    bp.add_route(as_handler(routes.ready), "/health/ready", methods=["GET"])
    bp.listener("after_server_start")(workers.announce)
    bp.listener("after_server_start")(workers.freeze_loaded_objects)
    bp.listener("before_server_stop")(drain_on_stop)  # SIGTERM: finish running turns, refuse new ones
    bp.add_route(as_handler(routes.prometheus), "/metrics", methods=["GET"])
