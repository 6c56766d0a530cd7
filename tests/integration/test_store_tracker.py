"""AppendOnlyRedisTrackerStore (bot/stores/tracker.py) against real Redis:
the shared one (test db, own key prefix) and a 3-master Redis Cluster
(``redis_target``: each such test runs on both), and, to kill or freeze it,
a redis-server of the test's own."""
from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from typing import List

import pytest
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    ConversationPaused,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from testing.redis_server import RedisServer, free_port
from bot.stores.errors import StoreUnavailable
from bot.stores.tracker import AppendOnlyRedisTrackerStore
from testing.processes import ROOT

DOMAIN = Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture
def prefix(redis_target) -> str:
    value = f"st{uuid.uuid4().hex[:10]}"
    yield value
    redis_target.delete_prefixed(value)


def make_store(redis_target, prefix: str, **options) -> AppendOnlyRedisTrackerStore:
    return AppendOnlyRedisTrackerStore(DOMAIN, key_prefix=prefix, **redis_target.store_options(), **options)


def session_start() -> List[Event]:
    return [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]


def turn(n: int) -> List[Event]:
    """One customer turn as Rasa logs it: message, bot action, reply, listen."""
    return [
        UserUttered(f"mensagem {n}", {"name": "ask_plans", "confidence": 0.9}),
        ActionExecuted("utter_greet"),
        BotUttered(f"resposta {n}"),
        ActionExecuted("action_listen"),
    ]


async def run_turn(store, sender: str, events: List[Event]) -> DialogueStateTracker:
    """What Rasa does: retrieve (or create), update, save."""
    tracker = await store.retrieve(sender)
    if tracker is None:
        tracker = DialogueStateTracker(sender, DOMAIN.slots)
    for event in events:
        tracker.update(event)
    await store.save(tracker)
    return tracker


def dicts(events) -> List[dict]:
    return [event.as_dict() for event in events]


def test_saved_events_come_back_in_order(redis_target, prefix):
    async def scenario():
        store = make_store(redis_target, prefix)
        sender = "web:abc"
        first, second = session_start() + turn(1), turn(2)
        await run_turn(store, sender, first)
        await run_turn(store, sender, second)
        full = await store.retrieve_full_tracker(sender)
        assert dicts(full.events) == dicts(first + second)
        assert full.latest_message.text == "mensagem 2"
        assert await store.exists(sender)
        assert await store.retrieve("nobody") is None
        assert not await store.exists("nobody")

    asyncio.run(scenario())


def test_retrieve_reads_the_last_session_and_full_reads_all(redis_target, prefix):
    async def scenario():
        store = make_store(redis_target, prefix)
        sender = "wa:5511999990000"
        await run_turn(store, sender, [ActionExecuted("action_listen")] + session_start() + turn(1))
        second_session = session_start() + turn(2)
        await run_turn(store, sender, second_session)
        current = await store.retrieve(sender)
        assert dicts(current.events) == dicts(second_session)
        full = await store.retrieve_full_tracker(sender)
        assert len(full.events) == 1 + 2 * len(session_start()) + 2 * len(turn(1))
        assert [e.text for e in full.events if isinstance(e, UserUttered)] == ["mensagem 1", "mensagem 2"]

    asyncio.run(scenario())


def test_a_long_session_is_read_through_a_checkpoint_with_its_exact_state(redis_target, prefix):
    async def scenario():
        store = make_store(redis_target, prefix, window_events="20")
        sender = "api:long"
        await run_turn(
            store, sender,
            session_start() + [SlotSet("customer_name", "Maria"), ActiveLoop("customer_id_form"),
                               ConversationPaused()] + turn(0),
        )
        for n in range(1, 60):
            await run_turn(store, sender, turn(n))
        await run_turn(store, sender, [SlotSet("customer_name", "Maria Silva")] + turn(60))
        for n in range(61, 80):
            await run_turn(store, sender, turn(n))
        windowed = await store.retrieve(sender)
        full = await store.retrieve_full_tracker(sender)
        # bounded: about 1.5 x window events plus the state prefix, not 330 events
        assert len(windowed.events) <= 20 * 3 // 2 + len(turn(0)) + 3
        assert len(full.events) == len(session_start()) + 3 + 1 + 80 * len(turn(0))
        assert windowed.current_slot_values() == full.current_slot_values()
        assert windowed.get_slot("customer_name") == "Maria Silva"
        assert windowed.active_loop_name == full.active_loop_name == "customer_id_form"
        assert windowed.is_paused() and full.is_paused()
        assert windowed.latest_message.text == "mensagem 79"
        # the next turn appends only its events (the prefix is not stored again)
        await run_turn(store, sender, turn(80))
        assert len((await store.retrieve_full_tracker(sender)).events) == len(full.events) + len(turn(0))

    asyncio.run(scenario())


def test_bytes_written_per_turn_do_not_grow_with_the_conversation(tmp_path):
    """Redis' own count of bytes received, around one turn's save, early and late."""
    server = RedisServer(tmp_path / "redis", appendonly=False).start()
    try:
        store = AppendOnlyRedisTrackerStore(DOMAIN, host=server.url, key_prefix="bytes")
        stats = server.client()

        def received() -> int:
            return int(stats.info("stats")["total_net_input_bytes"])

        async def scenario():
            sender = "web:bytes"
            await run_turn(store, sender, session_start())
            per_turn = {}
            for n in range(1, 301):
                tracker = await store.retrieve(sender)
                for event in turn(n):
                    tracker.update(event)
                before = received()
                await store.save(tracker)
                per_turn[n] = received() - before
            return per_turn

        per_turn = asyncio.run(scenario())
        # medians: a turn that also writes a window checkpoint costs a little more,
        # at a fixed rhythm that does not depend on the conversation's length
        early = statistics.median(per_turn[n] for n in range(5, 25))
        late = statistics.median(per_turn[n] for n in range(281, 301))
        assert abs(late - early) <= 0.05 * early, per_turn
        # and the whole tracker is not rewritten: a turn is far smaller than the stored list
        stored = stats.memory_usage("bytes:tracker-events:web:bytes")
        assert late * 20 < stored
    finally:
        server.stop()


def test_ttl_is_refreshed_on_every_turn(redis_target, prefix):
    keys = [redis_target.key(prefix, kind, "web:ttl") for kind in ("tracker-events", "tracker-meta")]

    async def scenario():
        store = make_store(redis_target, prefix, record_exp="120")
        await run_turn(store, "web:ttl", session_start() + turn(1))
        for key in keys:
            redis_target.client.expire(key, 5)
        await run_turn(store, "web:ttl", turn(2))
        for key in keys:
            assert 110 <= redis_target.client.ttl(key) <= 120

    asyncio.run(scenario())


def test_the_cap_trims_the_oldest_sessions(redis_target, prefix):
    redis_client = redis_target.client
    events_key = redis_target.key(prefix, "tracker-events", "web:cap")

    async def scenario():
        store = make_store(redis_target, prefix, max_events="40", window_events="10")
        sender = "web:cap"
        for session in range(3):  # 3 sessions of 3 + 5 * 4 = 23 events
            events = session_start()
            for n in range(5):
                events += turn(session * 10 + n)
            await run_turn(store, sender, events)
        full = await store.retrieve_full_tracker(sender)
        # 69 events > 40: the two oldest whole sessions went, the last one is intact
        assert redis_client.llen(events_key) == 23
        assert full.events[0].as_dict()["name"] == "action_session_start"
        assert [e.text for e in full.events if isinstance(e, UserUttered)][0] == "mensagem 20"
        current = await store.retrieve(sender)
        assert current.latest_message.text == "mensagem 24"
        # one endless session: trimmed inside it, never beyond the checkpoint
        for n in range(100, 140):
            await run_turn(store, sender, turn(n))
        assert redis_client.llen(events_key) <= 40 + 15
        current = await store.retrieve(sender)
        assert current.latest_message.text == "mensagem 139"

    asyncio.run(scenario())


def test_keys_lists_conversations_with_scan(redis_target, prefix):
    async def scenario():
        store = make_store(redis_target, prefix)
        senders = {"web:a", "wa:5511988887777", "api:x*y?", "api:{braced}x", "api:}x{"}
        for sender in senders:
            await run_turn(store, sender, session_start())
        assert set(await store.keys()) == senders

    asyncio.run(scenario())


def test_a_tracker_built_elsewhere_appends_only_what_is_new(redis_target, prefix):
    """PUT /conversations/<id>/tracker, or a tracker Rasa created itself."""
    async def scenario():
        store = make_store(redis_target, prefix)
        sender = "api:put"
        await run_turn(store, sender, session_start() + turn(1))
        stored = await store.retrieve_full_tracker(sender)
        later = turn(2)
        rebuilt = DialogueStateTracker.from_dict(sender, dicts(stored.events) + dicts(later), DOMAIN.slots)
        await store.save(rebuilt)
        full = await store.retrieve_full_tracker(sender)
        assert dicts(full.events) == dicts(stored.events) + dicts(later)

    asyncio.run(scenario())


def test_unreachable_redis_raises_a_typed_error_fast(tmp_path):
    store = AppendOnlyRedisTrackerStore(DOMAIN, host=f"redis://127.0.0.1:{free_port()}/0",
                                        socket_timeout="1")

    async def scenario():
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="Redis at 127.0.0.1"):
            await store.retrieve("web:down")
        with pytest.raises(StoreUnavailable):
            await store.save(DialogueStateTracker.from_events("web:down", session_start()))
        with pytest.raises(StoreUnavailable):
            await store.keys()
        return time.monotonic() - started

    elapsed = asyncio.run(scenario())
    print(f"three calls against a closed port: {elapsed:.3f} s")


def test_frozen_redis_raises_within_the_timeout_and_data_survives(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    try:
        store = AppendOnlyRedisTrackerStore(DOMAIN, host=server.url, key_prefix="frozen", socket_timeout="1")

        async def scenario():
            await run_turn(store, "web:frozen", session_start() + turn(1))
            server.freeze(3)
            with pytest.raises(StoreUnavailable, match="TimeoutError"):
                await store.retrieve("web:frozen")
            await asyncio.sleep(3.5)
            tracker = await store.retrieve("web:frozen")
            assert tracker.latest_message.text == "mensagem 1"

        asyncio.run(scenario())
    finally:
        server.stop()


def test_rasas_fail_safe_wrapper_does_not_hide_the_error(tmp_path):
    """Agent wraps every store in FailSafeTrackerStore, which would answer an empty
    conversation and save to memory; with our store the error comes through."""
    store = AppendOnlyRedisTrackerStore(DOMAIN, host=f"redis://127.0.0.1:{free_port()}/0",
                                        socket_timeout="1")
    wrapped = FailSafeTrackerStore(store)

    async def scenario():
        with pytest.raises(StoreUnavailable):
            await wrapped.get_or_create_tracker("web:failsafe")
        with pytest.raises(StoreUnavailable):
            await wrapped.save(DialogueStateTracker.from_events("web:failsafe", session_start()))
        with pytest.raises(StoreUnavailable):
            await wrapped.retrieve_full_tracker("web:failsafe")
        assert wrapped._fallback_tracker_store is None  # nothing went to memory

    asyncio.run(scenario())


def test_bad_settings_name_the_field(redis_settings):
    with pytest.raises(ValueError, match="key_prefix"):
        AppendOnlyRedisTrackerStore(DOMAIN, host="127.0.0.1", key_prefix="not ok!")
    with pytest.raises(ValueError, match="window_events"):
        AppendOnlyRedisTrackerStore(DOMAIN, host="127.0.0.1", max_events="10", window_events="100")
