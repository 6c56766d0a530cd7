"""The SIGTERM drain (channels/common/drain.py): running turns are waited for within
the bound; once draining, run_turn refuses new ones."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from channels.common import drain as drain_module
from channels.common.drain import Drain
from channels.common.turn import ServiceUnavailable, run_turn


def test_an_idle_process_drains_at_once():
    drain = Drain()
    assert asyncio.run(drain.drain(5)) is True and drain.draining


def test_drain_waits_for_the_running_turn():
    async def scenario():
        drain = Drain()
        finished = []

        async def turn():
            with drain.turn():
                await asyncio.sleep(0.2)
                finished.append(True)

        task = asyncio.ensure_future(turn())
        await asyncio.sleep(0.05)
        assert drain.running == 1
        assert await drain.drain(5) is True
        await task
        return finished

    assert asyncio.run(scenario()) == [True]


def test_drain_gives_up_after_its_bound():
    async def scenario():
        drain = Drain()
        with drain.turn():
            return await drain.drain(0.05)

    assert asyncio.run(scenario()) is False


def test_run_turn_refuses_new_turns_while_draining(monkeypatch):
    draining = Drain()
    draining.draining = True
    monkeypatch.setattr("channels.common.turn.DRAIN", draining)
    app = SimpleNamespace(ctx=SimpleNamespace(agent=SimpleNamespace(is_ready=lambda: True)))

    async def never(_):
        raise AssertionError("no turn may start while draining")

    with pytest.raises(ServiceUnavailable, match="shutting down"):
        asyncio.run(run_turn(app, never, SimpleNamespace(sender_id="x"), "rest"))
    assert drain_module.DRAIN is not draining
