"""Two replicas behind the project's nginx keep conversations whole (issue 14, part 3).

One module-scoped cluster (testing/cluster.py): 2x `rasa run` and 2x
`rasa run actions` on the same Redis and key prefix, and a host nginx started
from deploy/nginx/ with its upstreams rewritten to the two replicas and the
test profile (the ``X-Upstream`` header says which replica answered).
Everything listens on 127.0.0.1 only and is stopped after the module.
Killing replicas is tests/e2e/test_failover.py's, on a cluster of its own.
"""
from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import List

import pytest
import requests

from bot.senders import sender_id
from channels.whatsapp.signature import sign
from testing.fakes import graph_api as graph_fake
from testing.cluster import Cluster
from testing.desk_client import DeskAgent, create_agent
from testing.rasa_server import RasaServer
from testing.widget_client import WidgetClient

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cluster(model_path, server_env, log_dir, redis_client, graph_api, tmp_path_factory):
    # The four servers start in parallel: start-up is half of this file's time (~90 s).
    running = Cluster(model_path, server_env, log_dir, tmp_path_factory.mktemp("nginx")).start()
    yield running
    running.stop()


def user_and_bot(tracker: dict) -> List[dict]:
    return [e for e in tracker["events"] if e["event"] in ("user", "bot")]


def assert_each_answered_in_order(tracker: dict) -> List[str]:
    """Every user message is followed by at least one bot message before the next one;
    returns the user texts in tracker order."""
    events = user_and_bot(tracker)
    users = [i for i, e in enumerate(events) if e["event"] == "user"]
    for here, after in zip(users, users[1:] + [len(events)]):
        answers = [e for e in events[here + 1:after] if e["event"] == "bot"]
        assert answers, f"unanswered or interleaved: {events[here]['text']!r} in {events}"
    return [events[i]["text"] for i in users]


def test_cluster_starts_two_replicas_behind_nginx(cluster):
    for replica in cluster.replicas:
        assert replica.api("GET", "/status").status_code == 200
    # nginx hides Rasa's own API from the public side.
    assert requests.get(f"{cluster.nginx_url}/status", timeout=10).status_code == 404


# --- round robin REST ---------------------------------------------------------

# Six turns a customer might type, each with a few wordings (nothing that
# hands over to the desk, which would pause the bot).
TURNS = [
    ["oi, boa tarde", "bom dia!", "ola, tudo bem?", "oii"],
    ["quais planos de internet voces tem?", "quero saber os planos de fibra", "tem plano de 500 mega?"],
    ["qual o horario de atendimento?", "voces abrem no sabado?", "ate que horas voces atendem?"],
    ["vc e um robo?", "isso e um bot?"],
    ["obrigado", "valeu pela ajuda", "muito obrigada"],
    ["tchau", "ate mais", "falou, tchau"],
]
CONVERSATIONS = 50


def conversation(cluster: Cluster, number: int) -> tuple:
    """One customer's six messages, one after another, through nginx; (sender, texts, upstreams)."""
    sender = f"scale-{uuid.uuid4().hex[:12]}"
    sent, upstreams = [], []
    for turn, wordings in enumerate(TURNS):
        message = wordings[(number + turn) % len(wordings)]
        answer = cluster.post_via_nginx(sender, message)
        assert answer.status_code == 200, answer.text
        assert answer.json(), f"{message!r} got no reply"
        sent.append(message)
        upstreams.append(answer.headers["X-Upstream"])
    return sender, sent, upstreams


def test_round_robin_rest_keeps_every_conversation_whole(cluster):
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda n: conversation(cluster, n), range(CONVERSATIONS)))
    replica_addresses = {f"127.0.0.1:{r.port}" for r in cluster.replicas}
    seen = {upstream for _, _, upstreams in results for upstream in upstreams}
    assert seen == replica_addresses, seen
    for index, (sender, sent, _) in enumerate(results):
        # nginx hides Rasa's API: ask a replica directly, with the token.
        tracker = cluster.replicas[index % 2].tracker(sender)
        assert assert_each_answered_in_order(tracker) == sent, sender


# --- one customer, concurrent messages on both replicas -------------------------

def test_concurrent_messages_of_one_customer_on_both_replicas_are_serialised(cluster):
    sender = f"scale-{uuid.uuid4().hex[:12]}"
    messages = [wordings[0] for wordings in TURNS]  # K = 6, all different

    def send(index: int) -> List[dict]:
        return cluster.replicas[index % 2].send(sender, messages[index])

    with ThreadPoolExecutor(len(messages)) as pool:
        replies = list(pool.map(send, range(len(messages))))
    assert all(replies), replies
    order = assert_each_answered_in_order(cluster.replicas[0].tracker(sender))
    assert sorted(order) == sorted(messages), order


# --- WhatsApp: one delivery to both replicas ---------------------------------------

def whatsapp_delivery(wa_id: str, wamid: str, body: str) -> bytes:
    """Meta's webhook envelope with one text message."""
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "551140040000", "phone_number_id": graph_fake.PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "Cliente Teste"}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": wamid, "timestamp": str(int(time.time())),
                          "type": "text", "text": {"body": body}}],
        }}]}],
    }
    return json.dumps(payload).encode()


def test_same_whatsapp_delivery_to_both_replicas_gives_one_turn(cluster, graph_api):
    wa_id = "55219" + uuid.uuid4().int.__str__()[:8]
    wamid = "wamid.HBgNNTUxMTk4NzY1MDAwMRUCABIYFDNB" + uuid.uuid4().hex.upper()
    body = whatsapp_delivery(wa_id, wamid, "oi, boa noite")
    headers = {"Content-Type": "application/json",
               "X-Hub-Signature-256": sign(graph_fake.APP_SECRET, body)}

    def deliver(replica: RasaServer) -> int:
        return requests.post(f"{replica.url}/webhooks/whatsapp/webhook", data=body,
                             headers=headers, timeout=60).status_code

    with ThreadPoolExecutor(2) as pool:
        statuses = list(pool.map(deliver, cluster.replicas))
    assert statuses == [200, 200], statuses

    def user_events() -> List[dict]:
        events = cluster.replicas[0].tracker(sender_id("wa", wa_id))["events"]
        return [e for e in events if e["event"] == "user"]

    graph_api.wait_for(lambda: user_events() and graph_api.sent(to=wa_id), timeout=60)
    time.sleep(3)  # a second turn, if any, would have answered by now
    tracker = cluster.replicas[1].tracker(sender_id("wa", wa_id))
    assert [e["text"] for e in tracker["events"] if e["event"] == "user"] == ["oi, boa noite"]
    answers = [r for r in graph_api.sent(to=wa_id) if r.type != "read"]
    bot_events = [e for e in tracker["events"] if e["event"] == "bot"]
    assert answers and len(answers) == len(bot_events), (answers, bot_events)


# --- desk across replicas ------------------------------------------------------------

def test_desk_agent_on_one_replica_talks_with_a_customer_on_the_other(
        cluster, redis_settings, key_prefix):
    replica_a, replica_b = cluster.replicas
    agent = DeskAgent(replica_a, create_agent(redis_settings.url, key_prefix)).online().connect()
    widget = WidgetClient(replica_b.url).connect()
    try:
        session_id = widget.session()
        assert "fila" in " ".join(r.get("text", "") for r in widget.say("quero falar com um atendente"))
        queued = agent.find_queued(sender_id("web", session_id))
        agent.ok("POST", f"/conversations/{queued['id']}/claim")
        # The customer's message arrives on B; the agent's socket is on A.
        assert widget.say("minha internet ta caindo toda hora") == []
        agent.customer_message(queued["id"], "minha internet ta caindo toda hora")
        agent.ok("POST", f"/conversations/{queued['id']}/messages", status=201,
                 json={"text": "Oi, aqui e o suporte."})
        assert widget.next("bot_uttered", timeout=30)["text"] == "Oi, aqui e o suporte."
        again = [data for name, data in widget.drain(3) if name == "bot_uttered"]
        assert again == [], again  # delivered once, not once per replica
    finally:
        widget.close()
        agent.close()
