"""Graceful SIGTERM: stop taking new turns, let the running ones finish within a bound.

Sanic's SIGTERM stops the loop, runs the ``before_server_stop`` listeners
with the listening socket still open, then closes it and waits for open
connections. :func:`drain_on_stop` is such a listener: it marks the process
as draining (``run_turn`` refuses new turns with ``ServiceUnavailable``: HTTP 503 with
``Retry-After``, a WebSocket/socket.io ``unavailable`` frame, and
``/health/ready`` turns 503 so the load balancer stops sending) and waits up
to ``SHUTDOWN_DRAIN_SECONDS`` for the turns already running, which finish
normally and release their Rasa lock as every turn does.
"""
from __future__ import annotations

import asyncio
import logging
from contextlib import contextmanager
from typing import Any, Iterator

from channels.common.settings import chat_settings

logger = logging.getLogger(__name__)


class Drain:
    """The turns running in this process, and whether new ones are still taken."""

    def __init__(self) -> None:
        self.draining = False
        self.running = 0
        self._idle = asyncio.Event()

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Count one running turn (the caller refuses new ones while draining)."""
        self.running += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.running -= 1
            if self.running == 0:
                self._idle.set()

    async def drain(self, bound: float) -> bool:
        """Refuse new turns; wait up to ``bound`` seconds for the running ones. Whether all ended."""
        self.draining = True
        if self.running == 0:
            return True
        try:
            await asyncio.wait_for(self._idle.wait(), bound)
            return True
        except asyncio.TimeoutError:
            return False


DRAIN = Drain()


async def drain_on_stop(*_: Any) -> None:
    """``before_server_stop``: drain this worker's turns within ``SHUTDOWN_DRAIN_SECONDS``."""
    bound = chat_settings().shutdown.drain_seconds
    running = DRAIN.running
    logger.info("shutdown: refusing new turns, waiting up to %ss for %d running", bound, running)
    if await DRAIN.drain(bound):
        logger.info("shutdown: no turn running, stopping")
    else:
        logger.warning("shutdown: %d turn(s) still running after %ss, stopping anyway", DRAIN.running, bound)
