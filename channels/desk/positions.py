"""Queue-position notices to waiting customers, sent by one replica at a time.

Every ``rasa run`` replica starts :func:`start_position_notices` after the
server starts; only the holder of the Redis key ``desk:leader:positions``
(``SET NX`` with a ``DESK_POSITION_LEADER_SECONDS`` expiry, renewed each
round) works, so a customer gets one notice, and a crashed leader is
replaced within that expiry. Each round (``DESK_POSITION_CHECK_SECONDS``,
default 15) a customer whose position improved since the last notice is told
the new position and wait, at most once per ``DESK_POSITION_NOTICE_SECONDS``
(default 60). The last notice per conversation lives in the hash
``desk:position_notices`` (``<position>:<time>``), so a new leader goes on
where the old one stopped.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Optional

from bot.desk import Desk
from bot.desk import handoff as texts
from bot.desk.leader import Lease
from bot.metrics import record_unexpected
from channels.common.errors import UNAVAILABLE_ERRORS
from channels.desk.delivery import CustomerLine, Undeliverable
from channels.desk.rounds import led_rounds

logger = logging.getLogger(__name__)

class PositionNotices:
    def __init__(self, app, desk: Desk):
        self.app = app
        self.desk = desk
        self.check_every = desk.settings.position_check_seconds
        self.min_gap = desk.settings.position_notice_seconds
        self.lease = Lease(desk.users.redis, desk.keys("leader", "positions"), desk.settings.position_leader_seconds)
        self.notices_key = desk.keys("position_notices")

    async def run(self) -> None:
        await led_rounds("positions", self.lease, self.round, lambda: asyncio.sleep(self.check_every))

    async def round(self, now: Optional[float] = None) -> int:
        """Notify whoever moved up; returns how many were told."""
        now = time.time() if now is None else now
        redis = self.desk.users.redis
        queue = await self.desk.conversations.queue(limit=1000)
        last = await redis.hgetall(self.notices_key)
        told = 0
        line = CustomerLine(self.app)
        ahead: dict = {}  # positions count within each department's queue
        for conversation in queue:
            position = ahead[conversation.department] = ahead.get(conversation.department, 0) + 1
            previous = last.get(conversation.id)
            if previous is None:  # action_handoff told the position when queuing
                await redis.hset(self.notices_key, conversation.id,
                                 f"{position}:{conversation.created_at}")
                continue
            old_position, at = previous.split(":", 1)
            if position >= int(old_position) or now - float(at) < self.min_gap:
                continue
            status = await self.desk.conversations.queue_status(conversation.id, now)
            wait = status.estimated_wait_seconds if status else None
            try:
                await line.say(conversation, texts.position_update_text(position, wait))
                told += 1
            except (Undeliverable, *UNAVAILABLE_ERRORS) as error:
                logger.warning("desk positions: notice to %s failed: %s", conversation.id, error)
            except Exception:  # one customer's channel must not stop the round
                logger.exception("desk positions: notice to %s failed", conversation.id)
                record_unexpected("desk.positions.notice")
            await redis.hset(self.notices_key, conversation.id, f"{position}:{now}")
        gone = set(last) - {conversation.id for conversation in queue}
        if gone:
            await redis.hdel(self.notices_key, *gone)
        return told


def start_position_notices(app) -> None:
    """Start the background task once per process (Sanic ``after_server_start``)."""
    if getattr(app.ctx, "desk_positions", None) is not None:
        return
    notices = PositionNotices(app, Desk.shared())
    app.ctx.desk_positions = notices
    app.add_task(notices.run())
