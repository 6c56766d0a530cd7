"""The key layout a Redis Cluster needs, checked on a real 3-master cluster.

Every key one conversation's tracker, lock and outbox write hashes to one
slot (so their scripts never raise CROSSSLOT), different conversations spread
over the masters, the desk's scripts run with all their keys in one slot, and
on a single server the key names are the ones existing deployments have.
"""
from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from redis import asyncio as aioredis
from redis.cluster import key_slot

from bot.cluster_copy import cluster_name
from bot.desk import Desk
from bot.desk.keys import Keys
from bot.desk.users import Agent
from bot.llm.breaker import Breaker
from bot.outbox import Outbox
from bot.stores.errors import LockStoreUnavailable, StoreUnavailable
from bot.stores.lock import RedisTicketLockStore
from bot.stores.settings import RedisSettings, SettingsError
from bot.stores.tracker import AppendOnlyRedisTrackerStore
from bot.verification.codes import CodeStore, Outcome
from bot.verification.settings import StepUpSettings
from testing.processes import ROOT, free_port, project_env
from testing.redis_cluster import RedisTarget

DOMAIN = Domain.load(str(ROOT / "domain.yml"))
ANA = Agent("ana", "Ana", "atendente", False, 0.0, 0.0)


@pytest.fixture
def cluster_target(redis_cluster) -> RedisTarget:
    settings = RedisSettings(host="127.0.0.1", port=redis_cluster.ports[0], cluster=True)
    return RedisTarget("cluster", settings, redis_cluster.client())


@pytest.fixture
def prefix(cluster_target, monkeypatch) -> str:
    value = f"ly{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("REDIS_KEY_PREFIX", value)
    monkeypatch.setenv("REDIS_CLUSTER", "true")
    yield value
    cluster_target.delete_prefixed(value)


def all_keys(target: RedisTarget, prefix: str) -> list:
    """Every key under ``prefix`` on every master (SCAN on each node)."""
    return sorted({key for pattern in (f"{prefix}:*", "{%s:*" % prefix)
                   for key in target.client.scan_iter(pattern)})


async def one_turn(target: RedisTarget, prefix: str, sender: str) -> None:
    """What a turn writes: the lock, the tracker, a reply kept in the outbox."""
    options = dict(key_prefix=prefix, **target.store_options())
    tracker_store = AppendOnlyRedisTrackerStore(DOMAIN, **options)
    lock_store = RedisTicketLockStore(**options)
    async with lock_store.lock(sender):
        lock_store.issue_ticket(sender)  # a second message waiting: the counter and queue stay
        tracker = DialogueStateTracker(sender, DOMAIN.slots)
        for event in (ActionExecuted("action_session_start"), SessionStarted(),
                      ActionExecuted("action_listen"), UserUttered("oi")):
            tracker.update(event)
        await tracker_store.save(tracker)
        client = target.async_client()
        try:
            await Outbox(client, ttl_seconds=60, max_messages=10).push(sender, {"text": "ola"}, publish=True)
        finally:
            await client.close()


def test_every_key_of_one_conversation_is_in_one_slot(cluster_target, prefix):
    senders = [f"api:layout-{n}" for n in range(12)] + ["web:{odd}}brace", "wa:5511999990000"]

    async def scenario():
        for sender in senders:
            await one_turn(cluster_target, prefix, sender)

    asyncio.run(scenario())
    keys = all_keys(cluster_target, prefix)
    nodes = set()
    for sender in senders:
        mine = [key for key in keys if "{conv:%s}" % sender in key]
        kinds = sorted(key.split(":")[1] for key in mine)
        assert kinds == ["lock-next", "lock-queue", "outbox", "tracker-events", "tracker-meta"], mine
        slots = {key_slot(key.encode()) for key in mine}
        assert len(slots) == 1, (sender, mine)
        # the server agrees with the client's CRC16
        assert {cluster_target.client.cluster_keyslot(key) for key in mine} == slots
        nodes.add(cluster_target.client.get_node_from_key(mine[0]).port)
    assert len(nodes) >= 2  # conversations spread over the masters


def test_the_desk_scripts_run_on_the_cluster_with_the_desk_in_one_slot(cluster_target, prefix):
    """open, claim, message, transfer, close, csat: each is a Lua script over
    several desk keys; redis-py refuses one whose keys span slots."""
    async def scenario():
        client = cluster_target.async_client()
        try:
            desk = Desk.create(client, prefix)
            await desk.users.create("bia", "Bia", "atendente", "Senha-da-bia1")
            await desk.users.heartbeat("bia")
            conversation, created = await desk.conversations.open(
                "rest", "api:desk-layout", "request_human", customer_name="Maria")
            assert created
            await desk.conversations.claim(conversation.id, ANA)
            await desk.conversations.record_message(conversation.id, "agent")
            await desk.conversations.transfer(conversation.id, ANA, "bia", "financeiro")
            bia = await desk.users.get("bia")
            closed = await desk.conversations.close(conversation.id, bia, "resolvido")
            await desk.conversations.rate(closed.id, 5)
            assert (await desk.conversations.get(closed.id)).status == "resolved"
            await desk.conversations.next_protocol()
        finally:
            await client.close()

    asyncio.run(scenario())
    keys = all_keys(cluster_target, prefix)
    assert keys and all(key.startswith("{%s:desk}:" % prefix) for key in keys), keys
    assert len({key_slot(key.encode()) for key in keys}) == 1


def test_single_server_names_are_unchanged(redis_settings):
    """No migration for an existing deployment: no hash tag without REDIS_CLUSTER."""
    tracker = AppendOnlyRedisTrackerStore(DOMAIN, host=redis_settings.url, key_prefix="isp")
    lock = RedisTicketLockStore(host=redis_settings.url, key_prefix="isp")
    assert tracker._events_key("wa:551199") == "isp:tracker-events:wa:551199"
    assert tracker._meta_key("wa:551199") == "isp:tracker-meta:wa:551199"
    assert lock._queue_key("wa:551199") == "isp:lock-queue:wa:551199"
    assert Keys("isp", cluster=False)("queue") == "isp:desk:queue"
    assert Keys("isp", cluster=True)("queue") == "{isp:desk}:queue"


def test_cluster_mode_refuses_a_database_number(monkeypatch):
    monkeypatch.setenv("REDIS_CLUSTER", "true")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:7000/3")
    with pytest.raises(SettingsError, match="REDIS_DB must be 0 with REDIS_CLUSTER=true"):
        RedisSettings.from_env()
    monkeypatch.setenv("REDIS_CLUSTER", "maybe")
    with pytest.raises(SettingsError, match="REDIS_CLUSTER"):
        RedisSettings.from_env()


def test_an_unreachable_cluster_is_a_typed_store_error():
    options = dict(host="127.0.0.1", port=str(free_port()), cluster="true", socket_timeout="1")
    tracker = AppendOnlyRedisTrackerStore(DOMAIN, **options)
    lock = RedisTicketLockStore(**options)

    async def scenario():
        with pytest.raises(StoreUnavailable, match="Redis at 127.0.0.1"):
            await tracker.retrieve("web:down")
        with pytest.raises(LockStoreUnavailable):
            async with lock.lock("web:down"):
                pass

    asyncio.run(scenario())
    with pytest.raises(LockStoreUnavailable):
        lock.get_lock("web:down")


def test_cluster_names_of_a_single_servers_keys():
    assert cluster_name("isp:tracker-events:wa:5511", "isp") == "isp:tracker-events:{conv:wa:5511}"
    assert cluster_name("isp:tracker-meta:api:a}b", "isp") == "isp:tracker-meta:{conv:api:a}b}"
    assert cluster_name("isp:outbox:web:s1", "isp") == "isp:outbox:{conv:web:s1}"
    assert cluster_name("isp:desk:conv:42:transfers", "isp") == "{isp:desk}:conv:42:transfers"
    assert cluster_name("isp:wa:seen:wamid.x", "isp") == "{isp:wa}:seen:wamid.x"
    assert cluster_name("isp:wa:inbox:owner", "isp") == "{isp:wa}:inbox:owner"
    assert cluster_name("isp:lock-queue:wa:5511", "isp") is None
    assert cluster_name("isp:ratelimit:chat:api:x:123", "isp") == "isp:ratelimit:chat:api:x:123"
    assert cluster_name("isp:stepup:{conv:api:x}:code", "isp") == "isp:stepup:{conv:api:x}:code"


def test_a_single_servers_data_copied_onto_the_cluster_reads_back(
        redis_settings, redis_client, cluster_target, redis_cluster):
    """python -m bot.cluster_copy: a tracker and a queued desk conversation
    written in single-server mode are read by the cluster-mode code."""
    prefix = f"cp{uuid.uuid4().hex[:8]}"
    single_options = dict(host=redis_settings.host, port=str(redis_settings.port),
                          db=str(redis_settings.db), cluster="false")
    sender = "api:copied"

    async def write_single():
        store = AppendOnlyRedisTrackerStore(DOMAIN, key_prefix=prefix, record_exp="3600", **single_options)
        tracker = DialogueStateTracker(sender, DOMAIN.slots)
        for event in (ActionExecuted("action_session_start"), SessionStarted(), UserUttered("quero o boleto")):
            tracker.update(event)
        await store.save(tracker)
        lock = RedisTicketLockStore(key_prefix=prefix, **single_options)
        lock.issue_ticket(sender)  # a ticket of the old deployment: not copied
        client = aioredis.Redis.from_url(redis_settings.url, decode_responses=True)
        try:
            opened, _ = await Desk.create(client, prefix).conversations.open("rest", sender, "request_human")
        finally:
            await client.close()
        return opened.id

    async def read_cluster(conversation_id):
        store = AppendOnlyRedisTrackerStore(DOMAIN, key_prefix=prefix, **cluster_target.store_options())
        tracker = await store.retrieve(sender)
        client = cluster_target.async_client()
        try:
            conversation = await Desk.create(client, prefix).conversations.find_open(sender)
        finally:
            await client.close()
        return tracker, conversation

    try:
        conversation_id = asyncio.run(write_single())
        result = subprocess.run(
            [sys.executable, "-m", "bot.cluster_copy", "--source", redis_settings.url,
             "--target", redis_cluster.url, "--prefix", prefix],
            cwd=ROOT, capture_output=True, text=True, timeout=120, env=project_env())
        assert result.returncode == 0, result.stderr
        assert "2 lock keys or expired keys skipped" in result.stdout, result.stdout  # queue + counter
        tracker, conversation = asyncio.run(read_cluster(conversation_id))
        assert tracker.latest_message.text == "quero o boleto"
        assert conversation is not None and conversation.id == conversation_id
        events_key = cluster_target.key(prefix, "tracker-events", sender)
        assert 3500 < cluster_target.client.ttl(events_key) <= 3600  # the TTL came along
        assert not [k for k in cluster_target.client.scan_iter(f"{prefix}:lock-*")]
        refused = subprocess.run(
            [sys.executable, "-m", "bot.cluster_copy", "--source", redis_settings.url,
             "--target", redis_cluster.url.replace("/0", "/2"), "--prefix", prefix],
            cwd=ROOT, capture_output=True, text=True, timeout=120, env=project_env())
        assert refused.returncode == 2 and "REDIS_DB must be 0" in refused.stderr
    finally:
        for key in redis_client.scan_iter(f"{prefix}:*"):
            redis_client.delete(key)
        cluster_target.delete_prefixed(prefix)


def test_the_other_redis_features_run_on_the_cluster(cluster_target, prefix):
    """Step-up codes (a script, Atomic, a DEL across two slots), the LLM breaker
    (Atomic); the WhatsApp inbox has its own test below."""
    async def scenario():
        client = cluster_target.async_client()
        try:
            codes = CodeStore(client, StepUpSettings(actions=frozenset()))
            code = await codes.issue("api:step", "52998224725")
            assert code is not None and await codes.pending("api:step", "52998224725")
            wrong = await codes.check("api:step", "52998224725", "000000" if code != "000000" else "111111")
            assert wrong.outcome is Outcome.WRONG
            assert (await codes.check("api:step", "52998224725", code)).outcome is Outcome.VERIFIED

            breaker = Breaker(client, failures=2, cooldown_seconds=60)
            assert await breaker.allows()
            assert not await breaker.failure() and await breaker.failure()
            assert not await breaker.allows()
        finally:
            await client.close()

    asyncio.run(scenario())


def test_the_whatsapp_inbox_runs_on_the_cluster(cluster_target, prefix, monkeypatch):
    """The webhook's synchronous claim (de-duplication + inbox entry, one script)
    and the take-over script: every key in the ``{<prefix>:wa}`` slot."""
    from bot.stores import connection
    from channels.whatsapp.inbound import Inbound
    from channels.whatsapp.inbox import Inbox
    from channels.whatsapp.settings import InboxSettings
    from testing.redis_server import run_with_shared_client
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{cluster_target.settings.port}")
    monkeypatch.setattr(connection, "_clients", {})
    messages = [Inbound(f"wamid.{n}-{uuid.uuid4().hex}", "5511987650001", "text", text="oi") for n in range(8)]
    dead, alive = Inbox(InboxSettings(check_seconds=0)), Inbox(InboxSettings(check_seconds=0))
    claimed, _ = dead.claim(messages + messages[:1], [])
    assert [m for _, m in claimed] == messages
    assert dead.claim(messages, []) == ([], [])

    async def take_over():
        await alive.beat()
        taken = await alive.sweep()
        for entry in taken:
            await alive.done(entry.entry_id)
        return taken

    assert [t.item for t in run_with_shared_client(take_over())] == messages
