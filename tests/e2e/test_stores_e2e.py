"""Our Redis stores (bot/stores/) in real `rasa run` servers, with real actions.

These servers use an endpoints file of their own (the shared endpoints.yml
keeps Rasa's stock stores until the switch) and a redis-server of their own
on a spare port, which the tests kill, restart and freeze. Between Rasa and
the real action server sits testing.redis_server.SlowActionProxy, which
forwards every action call unchanged after `delay` seconds."""
from __future__ import annotations

import concurrent.futures
import json
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path
from typing import List

import pytest
import requests

from testing.redis_server import RedisServer, SlowActionProxy
from tests.conftest import CHAT_API_KEY
from testing.rasa_server import RasaServer
from testing.processes import ROOT, VENV_BIN

pytestmark = pytest.mark.e2e

LOCK_LIFETIME = 2  # seconds; the slow turn below lasts 2.5 of them
AUTH = {"Authorization": f"Bearer {CHAT_API_KEY}"}


def endpoints_yaml(redis_url: str, action_url: str, prefix: str, extra: str = "") -> str:
    return f"""
action_endpoint:
  url: {action_url}
  headers:
    Authorization: Bearer ${{ACTION_SERVER_TOKEN}}
tracker_store:
  type: bot.stores.tracker.AppendOnlyRedisTrackerStore
  url: {redis_url}
  key_prefix: {prefix}
  record_exp: 3600
lock_store:
  type: bot.stores.lock.RedisTicketLockStore
  url: {redis_url}
  key_prefix: {prefix}
{extra}"""


@pytest.fixture(scope="module")
def store_redis(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("stores-redis")).start()  # AOF, fsync always
    yield server
    server.stop()


@pytest.fixture(scope="module")
def action_proxy(action_server, server_env):
    proxy = SlowActionProxy(f"http://127.0.0.1:{server_env['ACTION_PORT']}", delay=0).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def endpoints_file(tmp_path_factory, store_redis, action_proxy) -> Path:
    path = tmp_path_factory.mktemp("stores-endpoints") / "endpoints.yml"
    path.write_text(endpoints_yaml(store_redis.url, action_proxy.url, "e2e"))
    return path


@pytest.fixture(scope="module")
def servers(model_path, server_env, log_dir, endpoints_file, store_redis):
    """Two `rasa run` replicas sharing our stores in one Redis."""
    # CHAT_RATE_LIMIT_PER_MINUTE=0: these tests send 50 messages of one customer at once (the lock, not the limit)
    env = dict(server_env, TICKET_LOCK_LIFETIME=str(LOCK_LIFETIME), REDIS_TIMEOUT_SECONDS="1",
               CHAT_RATE_LIMIT_PER_MINUTE="0")
    started: List[RasaServer] = []
    try:
        for name in ("rasa-stores-a", "rasa-stores-b"):
            server = RasaServer(model_path, env, log_dir, name=name)
            server.args[server.args.index("endpoints.yml")] = str(endpoints_file)
            started.append(server.start())
        yield started
    finally:
        for server in started:
            server.stop()


def webhook(server: RasaServer, sender: str, message: str) -> List[dict]:
    response = requests.post(
        f"{server.url}/webhooks/rest/webhook", json={"sender": sender, "message": message},
        headers=server.chat_headers(), timeout=120,
    )
    response.raise_for_status()
    return response.json()


def chat(server: RasaServer, session_id: str, message: str) -> requests.Response:
    return requests.post(
        f"{server.url}/api/v1/chat", json={"session_id": session_id, "message": message},
        headers=AUTH, timeout=60,
    )


def user_texts(tracker: dict) -> List[str]:
    return [event["text"] for event in tracker["events"] if event["event"] == "user"]


def assert_turns_not_interleaved(tracker: dict) -> None:
    """Each user message is followed by its bot actions, ending in action_listen,
    before the next user message starts."""
    waiting_for_listen = False
    for event in tracker["events"]:
        if event["event"] == "user":
            assert not waiting_for_listen, "a turn started inside another turn"
            waiting_for_listen = True
        elif event["event"] == "action" and event["name"] == "action_listen":
            waiting_for_listen = False


def numbered(intent: str, n: int) -> str:
    """An intent payload whose text is unique (the entity does not change the reply)."""
    return f'/{intent}{{"protocol": "{n}"}}'


@pytest.fixture
def sender() -> str:
    return f"stores-{uuid.uuid4().hex[:10]}"  # no web:/wa:/api: prefix: the REST webhook refuses them


def test_fifty_concurrent_messages_of_one_customer_across_two_servers(servers, sender):
    intents = ["ask_business_hours", "thank"]
    reference = {intent: webhook(servers[0], f"{sender}-ref", f"/{intent}") for intent in intents}
    messages = [(n, intents[n % 2], servers[n % 2]) for n in range(50)]

    def send(item):
        n, intent, server = item
        return n, intent, webhook(server, sender, numbered(intent, n))

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(send, messages))

    for n, intent, replies in results:
        assert [r.get("text") for r in replies] == [r.get("text") for r in reference[intent]], n
    tracker = servers[1].tracker(sender)
    texts = user_texts(tracker)
    assert sorted(texts) == sorted(numbered(intent, n) for n, intent, _ in messages)
    assert_turns_not_interleaved(tracker)


def test_a_turn_longer_than_the_lock_lifetime_then_more_messages(servers, action_proxy, sender):
    """Stock Rasa drops the messages queued behind a turn that outlives
    TICKET_LOCK_LIFETIME; here they wait and are answered, in order."""
    action_proxy.delay = LOCK_LIFETIME * 2.5
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            slow = pool.submit(webhook, servers[0], sender, "/ask_plans")
            time.sleep(1.0)
            action_proxy.delay = 0
            later = []
            for n in range(3):
                later.append(pool.submit(webhook, servers[(n + 1) % 2], sender, numbered("ask_business_hours", n)))
                time.sleep(0.3)
            assert slow.result(), "the slow turn got no reply"
            for future in later:
                assert future.result(), "a message queued behind the slow turn got no reply"
    finally:
        action_proxy.delay = 0
    tracker = servers[0].tracker(sender)
    assert user_texts(tracker) == ["/ask_plans"] + [numbered("ask_business_hours", n) for n in range(3)]
    assert_turns_not_interleaved(tracker)


def test_redis_killed_and_restarted_mid_conversation(servers, store_redis):
    session = f"kill-{uuid.uuid4().hex[:10]}"
    first = chat(servers[0], session, "/greet")
    assert first.status_code == 200 and first.json()["messages"]
    assert chat(servers[1], session, "/ask_business_hours").status_code == 200

    store_redis.kill()
    try:
        down = chat(servers[0], session, "/thank")
        assert down.status_code == 503, down.text
        assert "unavailable" in down.text
        tracker = servers[1].api("GET", f"/conversations/api:{session}/tracker")
        assert tracker.status_code == 500  # an error, not an empty conversation from memory
    finally:
        store_redis.start()

    after = chat(servers[1], session, "/thank")
    assert after.status_code == 200 and after.json()["messages"]
    texts = user_texts(servers[0].tracker(f"api:{session}"))
    assert texts == ["/greet", "/ask_business_hours", "/thank"]  # nothing lost, nothing from memory


def test_frozen_redis_answers_503_within_the_timeout(servers, store_redis):
    session = f"freeze-{uuid.uuid4().hex[:10]}"
    assert chat(servers[0], session, "/greet").status_code == 200
    store_redis.freeze(4)
    started = time.monotonic()
    frozen = chat(servers[0], session, "/thank")
    elapsed = time.monotonic() - started
    print(f"message while Redis is frozen: HTTP {frozen.status_code} after {elapsed:.2f} s")
    assert frozen.status_code == 503, frozen.text
    time.sleep(4.5)
    assert chat(servers[0], session, "/thank").status_code == 200
    assert user_texts(servers[0].tracker(f"api:{session}")) == ["/greet", "/thank"]


def test_rasa_export_reads_conversations_from_our_store(servers, store_redis, action_proxy, server_env, tmp_path):
    sender = f"export-{uuid.uuid4().hex[:10]}"
    since = time.time() - 1
    for message in ("/greet", "/ask_business_hours", "/thank"):
        assert webhook(servers[0], sender, message)
    database = tmp_path / "events.db"
    endpoints = tmp_path / "endpoints-export.yml"
    endpoints.write_text(
        endpoints_yaml(
            store_redis.url, action_proxy.url, "e2e",
            extra=f"event_broker:\n  type: SQL\n  dialect: sqlite\n  db: {database}\n",
        )
    )
    result = subprocess.run(
        [str(VENV_BIN / "rasa"), "export", "--endpoints", str(endpoints),
         "--conversation-ids", sender, "--minimum-timestamp", str(since)],
        cwd=ROOT, env=server_env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with sqlite3.connect(database) as db:
        rows = [json.loads(data) for sender_id, data in db.execute("SELECT sender_id, data FROM events")
                if sender_id == sender]
    assert [row["text"] for row in rows if row["event"] == "user"] == ["/greet", "/ask_business_hours", "/thank"]
