"""The WhatsApp inbox (channels/whatsapp/inbox.py) against the real Redis:
the webhook's claim (de-duplication + entry), the end of a turn, and the
take-over of a dead worker's messages."""
import time
import uuid

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError, RedisError

from channels.whatsapp import inbox as inbox_module
from channels.whatsapp.inbound import Inbound, Status
from channels.whatsapp.inbox import FAILURE, MAX_TRIES, MESSAGE, Inbox, decode, encode
from channels.whatsapp.settings import InboxSettings
from testing.redis_server import run_with_shared_client

DUE_NOW = InboxSettings(check_seconds=0, heartbeat_seconds=1)


@pytest.fixture
def redis_env(monkeypatch, redis_settings, key_prefix, redis_client):
    monkeypatch.setenv("REDIS_URL", redis_settings.url)
    monkeypatch.setenv("REDIS_KEY_PREFIX", key_prefix)
    yield
    for key in redis_client.scan_iter(f"{key_prefix}:wa:*"):
        redis_client.delete(key)


def inbound(text: str = "oi") -> Inbound:
    return Inbound(message_id=f"wamid.{uuid.uuid4().hex}", wa_id="5511987650001", type="text",
                   phone_number_id="1234", profile_name="Maria", text=text)


def failed_status() -> Status:
    return Status(message_id=f"wamid.{uuid.uuid4().hex}", status="failed", recipient_id="5511987650001",
                  error_codes=(131047,))


run = run_with_shared_client  # a new loop each, its shared client closed after


def test_entries_round_trip_as_the_records_they_were():
    message, status = inbound(), failed_status()
    assert decode("x", encode(MESSAGE, message, 7)).item == message
    taken = decode("y", encode(FAILURE, status, 8))
    assert taken.item == status and taken.kind == FAILURE and taken.received_us == 8


def test_only_the_first_delivery_of_a_message_id_is_claimed_and_kept(redis_env, redis_client, key_prefix):
    inbox = Inbox(InboxSettings())
    first, second, status = inbound(), inbound(), failed_status()
    messages, failed = inbox.claim([first], [])
    assert messages == [(f"seen:{first.message_id}", first)] and failed == []
    messages, failed = inbox.claim([first, second, second], [status])
    assert [m for _, m in messages] == [second] and [s for _, s in failed] == [status]
    assert inbox.claim([], []) == ([], [])
    ttl = redis_client.ttl(f"{key_prefix}:wa:seen:{first.message_id}")
    assert 6 * 24 * 3600 < ttl <= 7 * 24 * 3600
    entries = redis_client.hgetall(f"{key_prefix}:wa:inbox:owner")
    assert entries == {f"seen:{first.message_id}": inbox.worker, f"seen:{second.message_id}": inbox.worker,
                       f"failed:{status.message_id}": inbox.worker}
    due = redis_client.zscore(f"{key_prefix}:wa:inbox:due", f"seen:{first.message_id}")
    assert due > (time.time() + 15) * 1000  # looked at again check_seconds (20 s) later


def test_a_finished_turn_leaves_nothing_behind(redis_env, redis_client, key_prefix):
    inbox = Inbox(DUE_NOW)
    [(entry_id, _)], _ = inbox.claim([inbound()], [])

    async def turn():
        assert entry_id in inbox.running

    run(inbox.run(entry_id, turn()))
    assert entry_id not in inbox.running
    for name in ("inbox", "inbox:owner", "inbox:tries"):
        assert not redis_client.hexists(f"{key_prefix}:wa:{name}", entry_id)
    assert redis_client.zscore(f"{key_prefix}:wa:inbox:due", entry_id) is None


def test_a_turn_that_raised_is_deleted_but_one_stopped_by_redis_is_kept_for_a_retry(redis_env, redis_client,
                                                                                    key_prefix):
    inbox = Inbox(DUE_NOW)
    [(broken, _), (unavailable, _)], _ = inbox.claim([inbound(), inbound()], [])

    async def raises(error):
        raise error

    with pytest.raises(ValueError):
        run(inbox.run(broken, raises(ValueError("a bug"))))
    with pytest.raises(RedisConnectionError):
        run(inbox.run(unavailable, raises(RedisConnectionError("down"))))
    assert not redis_client.hexists(f"{key_prefix}:wa:inbox", broken)
    assert redis_client.hexists(f"{key_prefix}:wa:inbox", unavailable)
    taken = run(inbox.sweep())  # its own entry, no longer running here: run again
    assert [t.entry_id for t in taken] == [unavailable] and not taken[0].drop


def test_a_dead_workers_entries_are_taken_over_by_one_live_worker_in_order(redis_env, redis_client, key_prefix):
    dead, alive, other = Inbox(DUE_NOW), Inbox(DUE_NOW), Inbox(DUE_NOW)
    older, newer = inbound("primeira"), inbound("segunda")
    dead.claim([older], [])
    time.sleep(0.002)
    dead.claim([newer], [])
    time.sleep(0.002)
    [(status_entry, status)] = dead.claim([], [failed_status()])[1]
    run(alive.beat())
    run(other.beat())
    taken = run(alive.sweep())
    assert [t.item for t in taken] == [older, newer, status]  # oldest first
    assert redis_client.hget(f"{key_prefix}:wa:inbox:owner", status_entry) == alive.worker
    assert run(other.sweep()) == []  # due again, but its new owner beats


def test_a_live_workers_entries_are_left_to_it(redis_env, redis_client, key_prefix):
    owner, sweeper = Inbox(DUE_NOW), Inbox(DUE_NOW)
    [(entry_id, _)], _ = owner.claim([inbound()], [])
    run(owner.beat())
    assert run(sweeper.sweep()) == []
    assert run(owner.sweep()) == []  # still running in the owner: looked at again later
    later = redis_client.zscore(f"{key_prefix}:wa:inbox:due", entry_id)
    assert later >= (time.time() - 1) * 1000
    assert redis_client.hget(f"{key_prefix}:wa:inbox:owner", entry_id) == owner.worker


def test_a_stopped_worker_gives_its_entries_up_at_once(redis_env, key_prefix):
    leaving, staying = Inbox(DUE_NOW), Inbox(DUE_NOW)
    leaving.claim([inbound()], [])
    run(leaving.beat())
    assert run(staying.sweep()) == []
    run(leaving.stop())
    assert len(run(staying.sweep())) == 1


def test_an_entry_is_given_up_after_max_tries(redis_env, redis_client, key_prefix):
    dead, alive = Inbox(DUE_NOW), Inbox(DUE_NOW)
    [(entry_id, _)], _ = dead.claim([inbound()], [])
    verdicts = [[t.drop for t in run(alive.sweep())] for _ in range(MAX_TRIES + 1)]
    assert verdicts == [[False]] * MAX_TRIES + [[True]]
    assert not redis_client.hexists(f"{key_prefix}:wa:inbox", entry_id)
    assert run(alive.sweep()) == []


def test_entries_are_not_looked_at_before_their_time(redis_env):
    dead, alive = Inbox(InboxSettings(check_seconds=30)), Inbox(DUE_NOW)
    dead.claim([inbound()], [])
    assert run(alive.sweep()) == []


def test_an_unreachable_redis_raises_and_holds_the_loop_briefly(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("REDIS_TIMEOUT_SECONDS", "5")
    inbox = Inbox(InboxSettings())
    with pytest.raises(RedisError):
        inbox.claim([inbound()], [])
    timeout = inbox._sync().connection_pool.connection_kwargs["socket_timeout"]
    assert timeout == inbox_module.SYNC_TIMEOUT_SECONDS  # capped below REDIS_TIMEOUT_SECONDS
