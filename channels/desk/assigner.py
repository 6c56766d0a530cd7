"""Automatic assignment rounds (bot/desk/assignment.py), run by one replica at a time.

Every ``rasa run`` replica starts :func:`start_assignment` after the server
starts; the holder of ``desk:leader:assignment`` runs a round whenever the
desk's events say a conversation started waiting or a place freed up, and at
least every ``DESK_ASSIGN_SECONDS`` (default 1; agents coming online have no
event): hands out the waiting conversations of ``auto`` departments and puts
back those of agents gone offline. A crashed
leader is replaced within a few rounds (the lease is three rounds, at least 5 s).
"""
from __future__ import annotations

import asyncio
import logging

from bot.desk import Desk
from bot.desk.assignment import Assigner
from bot.desk.events import CONVERSATION_CLOSED, QUEUE_UPDATE
from bot.desk.leader import Lease
from channels.common.errors import UNAVAILABLE_ERRORS
from channels.desk.rounds import led_rounds

logger = logging.getLogger(__name__)


WAKING_EVENTS = (QUEUE_UPDATE, CONVERSATION_CLOSED)  # a conversation waits, or a place freed up


async def wake_on_changes(desk: Desk, wake: asyncio.Event) -> None:
    """Set ``wake`` when the desk's events say a round could hand something out."""
    while True:
        try:
            async with desk.events.subscribe() as stream:
                async for event in stream:
                    if event.type in WAKING_EVENTS:
                        wake.set()
        except (*UNAVAILABLE_ERRORS, TimeoutError) as error:
            logger.warning("desk assignment: events unavailable, rounds on the timer only: %s", error)
            await asyncio.sleep(desk.settings.assign_seconds)


async def assignment_rounds(desk: Desk) -> None:
    every = desk.settings.assign_seconds
    lease = Lease(desk.users.redis, desk.keys("leader", "assignment"), max(3 * every, 5))
    assigner = Assigner(desk)
    wake = asyncio.Event()
    listener = asyncio.ensure_future(wake_on_changes(desk, wake))
    try:
        await rounds(lease, assigner, wake, every)
    finally:
        listener.cancel()


async def rounds(lease: Lease, assigner: Assigner, wake: asyncio.Event, every: float) -> None:
    """A round when the desk changes (queue_update, conversation_closed) or every ``every`` seconds."""
    async def work() -> None:
        assigned, returned = await assigner.round()
        if assigned or returned:
            logger.info("desk assignment: %d assigned, %d back in the queue", assigned, returned)

    async def pause() -> None:
        # Cleared here, whether or not this replica leads: a follower that left it
        # set would go round without waiting. Events during a round set it again.
        try:
            await asyncio.wait_for(wake.wait(), timeout=every)
        except asyncio.TimeoutError:
            pass
        wake.clear()

    await led_rounds("assignment", lease, work, pause)


def start_assignment(app) -> None:
    """Start the background task once per process (Sanic ``after_server_start``)."""
    if getattr(app.ctx, "desk_assignment", None) is not None:
        return
    app.ctx.desk_assignment = app.add_task(assignment_rounds(Desk.shared()))
