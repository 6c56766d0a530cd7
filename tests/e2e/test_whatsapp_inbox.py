"""A WhatsApp message the webhook acknowledged is answered even when its replica
dies mid-turn (channels/whatsapp/inbox.py), and never answered twice.

The doomed replica takes the message (200 to Meta), its turn waits on a slow
action call, and it is SIGKILLed: no drain, no goodbye. The shared test
server (another replica on the same Redis) takes the entry over once the dead
worker's heartbeat is gone, and the customer gets one answer."""
from __future__ import annotations

import os
import signal
import time

import pytest

from channels.whatsapp.inbound import Inbound
from channels.whatsapp.inbox import MESSAGE, encode
from testing.fakes import graph_api as graph_fake
from testing.processes import child_pids
from testing.rasa_server import RasaServer
from testing.redis_server import SlowActionProxy
from tests.e2e.test_whatsapp_channel import bodies, new_wa_id, new_wamid, say, shown, text, wait_text

pytestmark = pytest.mark.e2e

PLANS = "Nossos planos de fibra"


@pytest.fixture
def doomed_server(model_path, server_env, log_dir, action_server):
    """A replica whose action calls hang (30 s) and whose heartbeat stops 1.5 s after it dies."""
    proxy = SlowActionProxy(f"http://127.0.0.1:{server_env['ACTION_PORT']}", delay=0).start()
    env = {**server_env, "ACTION_SERVER_URL": proxy.url, "SANIC_WORKERS": "1",
           "WHATSAPP_INBOX_CHECK_SECONDS": "1", "WHATSAPP_INBOX_HEARTBEAT_SECONDS": "0.5"}
    server = RasaServer(model_path, env, log_dir, name="rasa-sigkill").start()
    yield server, proxy
    server.stop()
    proxy.stop()


def kill_hard(server: RasaServer) -> None:
    for pid in child_pids(server.process.pid) + [server.process.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    server.process.wait(timeout=30)


def answers(graph_api, wa_id: str, snippet: str) -> int:
    return sum(snippet in shown(body) for body in bodies(graph_api, wa_id))


def test_a_message_of_a_replica_killed_mid_turn_is_answered_once_by_another(
        doomed_server, rasa_server, graph_api, redis_client, key_prefix):
    server, proxy = doomed_server
    wa_id = new_wa_id()
    say(rasa_server, text(wa_id, "quais planos voces tem"))  # the demo ERP is seeded lazily
    wait_text(graph_api, wa_id, PLANS)
    survivor_log = len(rasa_server.log_text())

    proxy.delay = 30
    calls = proxy.calls
    wamid = new_wamid()
    say(server, text(wa_id, "me fala os planos de internet", wamid))  # acknowledged by the doomed replica
    graph_api.wait_for(lambda: proxy.calls > calls, timeout=60)  # its turn now waits on the action
    assert redis_client.hget(f"{key_prefix}:wa:inbox:owner", f"seen:{wamid}")
    kill_hard(server)
    assert answers(graph_api, wa_id, PLANS) == 1

    graph_api.wait_for(lambda: answers(graph_api, wa_id, PLANS) == 2, timeout=60)
    graph_api.wait_for(lambda: not redis_client.hexists(f"{key_prefix}:wa:inbox", f"seen:{wamid}"), timeout=30)
    assert f"seen:{wamid} taken over" in rasa_server.log_text()[survivor_log:]
    time.sleep(2)
    assert answers(graph_api, wa_id, PLANS) == 2  # once for each message, nothing twice
    user_messages = [e for e in rasa_server.tracker(f"wa:{wa_id}")["events"] if e["event"] == "user"]
    assert [e["message_id"] for e in user_messages].count(wamid) == 1


def test_a_taken_over_message_already_answered_is_not_answered_again(rasa_server, graph_api, redis_client,
                                                                     key_prefix):
    """The dead worker finished the turn but not the delete: the conversation
    already holds the message id, so the taker drops the entry silently."""
    wa_id, wamid = new_wa_id(), new_wamid()
    say(rasa_server, text(wa_id, "oi", wamid))
    graph_api.wait_for(lambda: bodies(graph_api, wa_id), timeout=60)
    graph_api.wait_for(lambda: not redis_client.hexists(f"{key_prefix}:wa:inbox", f"seen:{wamid}"), timeout=30)
    answered = len(bodies(graph_api, wa_id))
    survivor_log = len(rasa_server.log_text())

    entry_id = f"seen:{wamid}"
    message = Inbound(wamid, wa_id, "text", graph_fake.PHONE_NUMBER_ID, "Cliente Teste", "oi")
    redis_client.hset(f"{key_prefix}:wa:inbox", entry_id, encode(MESSAGE, message, time.time_ns() // 1000))
    redis_client.hset(f"{key_prefix}:wa:inbox:owner", entry_id, "a-worker-that-died")
    redis_client.zadd(f"{key_prefix}:wa:inbox:due", {entry_id: 0})

    graph_api.wait_for(lambda: not redis_client.hexists(f"{key_prefix}:wa:inbox", entry_id), timeout=30)
    log = rasa_server.log_text()[survivor_log:]
    assert f"{entry_id} taken over" in log and "already answered, not run again" in log
    time.sleep(1)
    assert len(bodies(graph_api, wa_id)) == answered
