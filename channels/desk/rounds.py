"""The loop of the desk's background rounds (queue positions, automatic
assignment): one replica works at a time (``bot.desk.leader.Lease``), a
Redis outage or a bug in one round is logged and the next round comes."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from bot.desk.leader import Lease
from bot.metrics import record_unexpected
from channels.common.errors import UNAVAILABLE_ERRORS

logger = logging.getLogger(__name__)


async def led_rounds(name: str, lease: Lease, work: Callable[[], Awaitable[Any]],
                     pause: Callable[[], Awaitable[None]]) -> None:
    """``work()`` whenever this process holds ``lease``, then ``pause()``, forever."""
    while True:
        try:
            if await lease.held():
                await work()
        except UNAVAILABLE_ERRORS as error:
            logger.warning("desk %s: Redis unavailable: %s", name, error)
        except asyncio.CancelledError:
            raise
        except Exception:  # a background loop: log the bug, try again next round
            logger.exception("desk %s: round failed", name)
            record_unexpected(f"desk.{name}")
        await pause()
