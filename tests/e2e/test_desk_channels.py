"""Handoff to a human and back, end to end, on every customer channel.

Real Rasa (with credentials.yml and endpoints.yml: the desk connector and
the desk event broker), real action server, real Redis. Each test: the
customer asks for a person -> hears the queue position -> an atendente
(logged in over HTTP, listening on /desk/ws) claims -> the customer's message
appears on /desk/ws and in the transcript -> the agent's reply reaches the
customer's own channel -> close -> CSAT asked and stored -> the bot answers again.
"""
from __future__ import annotations

import asyncio
import json
import time
import uuid

import jwt
import pytest
import requests
import websockets

from tests.conftest import CHAT_API_KEY, METRICS_AUTH, WEBSOCKET_JWT_SECRET
from testing.desk_client import DeskAgent, create_agent
from tests.e2e.test_whatsapp_channel import bodies, new_wa_id, say, text, wait_text
from testing.widget_client import WidgetClient

pytestmark = pytest.mark.e2e

AUTH = {"Authorization": f"Bearer {CHAT_API_KEY}"}
CSAT_4 = '/rate_service{"csat_score": "4"}'


@pytest.fixture(scope="module")
def agent(rasa_server, redis_settings, key_prefix):
    desk_agent = DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix)).online()
    desk_agent.connect()
    yield desk_agent
    desk_agent.close()


def claim_and_talk(agent: DeskAgent, sender_id: str, customer_says, agent_text: str):
    """Queue -> claim -> a customer message over /desk/ws -> the agent's reply. The conversation."""
    queued = agent.find_queued(sender_id)
    assert queued["status"] == "queue" and queued["position"] >= 1
    assert queued["reason"] == "pedido do cliente"
    claimed = agent.ok("POST", f"/conversations/{queued['id']}/claim")["conversation"]
    assert claimed["status"] == "in_progress" and claimed["agent"] == agent.username
    customer_says("minha internet ta caindo toda hora")
    agent.customer_message(queued["id"], "minha internet ta caindo toda hora")
    sent = agent.ok("POST", f"/conversations/{queued['id']}/messages", status=201,
                    json={"text": agent_text})["message"]
    assert sent["author"] == "agent" and sent["agent"] == agent.username
    return queued["id"]


def check_transcript_and_close(agent: DeskAgent, conversation_id: str, agent_text: str) -> None:
    detail = agent.ok("GET", f"/conversations/{conversation_id}")
    authors = [(m["author"], m["text"]) for m in detail["transcript"]]
    assert ("customer", "minha internet ta caindo toda hora") in authors
    assert ("agent", agent_text) in authors
    assert any(author == "bot" and "fila" in said for author, said in authors)
    closed = agent.ok("POST", f"/conversations/{conversation_id}/close",
                      json={"resolution": "orientado", "notes": "reiniciou o roteador"})
    assert closed["conversation"]["status"] == "resolved"


def csat_of(agent: DeskAgent, conversation_id: str, expected: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if agent.ok("GET", f"/conversations/{conversation_id}")["conversation"].get("csat") == expected:
            return
        time.sleep(0.2)
    raise AssertionError(f"csat {expected} never stored on {conversation_id}")


# -- REST chat API -----------------------------------------------------------

def chat(server, session_id: str, message: str) -> dict:
    answer = requests.post(f"{server.url}/api/v1/chat", headers=AUTH, timeout=60,
                           json={"session_id": session_id, "message": message})
    assert answer.status_code == 200, answer.text
    return answer.json()


def later_texts(server, session_id: str, snippet: str, timeout: float = 30) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = requests.get(f"{server.url}/api/v1/chat/{session_id}/messages",
                                params={"after": "0"}, headers=AUTH, timeout=30).json()["messages"]
        if any(snippet in m.get("text", "") for m in messages):
            return messages
        time.sleep(0.2)
    raise AssertionError(f"{snippet!r} never delivered to {session_id}")


def test_rest_customer_reaches_an_agent_and_comes_back(rasa_server, agent):
    session_id = f"desk-{uuid.uuid4().hex[:10]}"
    first = chat(rasa_server, session_id, "quero falar com um atendente")
    said = "\n".join(m.get("text", "") for m in first["messages"])
    assert "fila" in said and ("posicao" in said or "proximo" in said), said
    assert {"title": "Voltar para o bot", "payload": "/leave_queue"} in first["messages"][-1]["buttons"]
    assert 'isp_handoffs_total{channel="rest_api"}' in requests.get(
        f"{rasa_server.url}/metrics", headers=METRICS_AUTH, timeout=30).text

    def customer_says(message: str) -> None:
        assert chat(rasa_server, session_id, message)["messages"] == []  # paused: only the agent answers

    conversation_id = claim_and_talk(agent, f"api:{session_id}", customer_says, "Oi! Sou do suporte.")
    later_texts(rasa_server, session_id, "Oi! Sou do suporte.")
    check_transcript_and_close(agent, conversation_id, "Oi! Sou do suporte.")
    messages = later_texts(rasa_server, session_id, "De 1 a 5")
    assert any("encerrado" in m.get("text", "") for m in messages)
    question = next(m for m in messages if "De 1 a 5" in m.get("text", ""))
    assert len(question["buttons"]) == 5
    assert "Obrigado pela avaliacao" in "\n".join(
        m.get("text", "") for m in chat(rasa_server, session_id, CSAT_4)["messages"])
    csat_of(agent, conversation_id, 4)
    again = chat(rasa_server, session_id, CSAT_4)  # a second score is not stored
    assert "ja avaliou" in again["messages"][0]["text"] or "Nao encontrei" in again["messages"][0]["text"]
    assert chat(rasa_server, session_id, "oi")["messages"]  # the bot answers again


# -- WhatsApp ----------------------------------------------------------------

def test_whatsapp_customer_reaches_an_agent_and_comes_back(rasa_server, graph_api, agent):
    wa_id = new_wa_id()
    say(rasa_server, text(wa_id, "quero falar com atendente"))
    wait_text(graph_api, wa_id, "fila")

    def customer_says(message: str) -> None:
        say(rasa_server, text(wa_id, message))

    conversation_id = claim_and_talk(agent, f"wa:{wa_id}", customer_says, "Ola, aqui e a Ana.")
    wait_text(graph_api, wa_id, "Ola, aqui e a Ana.")
    window = agent.ok("GET", f"/conversations/{conversation_id}")["conversation"]["whatsapp_window"]
    assert window["open"] and 23 * 3600 < window["seconds_left"] <= 24 * 3600  # opened by their messages
    check_transcript_and_close(agent, conversation_id, "Ola, aqui e a Ana.")
    question = wait_text(graph_api, wa_id, "De 1 a 5")
    assert question["type"] == "interactive"  # 5 choices: a WhatsApp list
    say(rasa_server, text(wa_id, CSAT_4))
    wait_text(graph_api, wa_id, "Obrigado pela avaliacao")
    csat_of(agent, conversation_id, 4)
    before = len(bodies(graph_api, wa_id))
    say(rasa_server, text(wa_id, "oi"))
    graph_api.wait_for(lambda: len(bodies(graph_api, wa_id)) > before or None, 60)


# -- socket.io (rasa-webchat) --------------------------------------------------

def test_socketio_customer_reaches_an_agent_sees_typing_and_comes_back(rasa_server, agent):
    widget = WidgetClient(rasa_server.url).connect()
    try:
        session_id = widget.session()
        replies = widget.say("quero falar com um atendente")
        assert "fila" in " ".join(r.get("text", "") for r in replies)

        def customer_says(message: str) -> None:
            assert widget.say(message) == []

        conversation_id = claim_and_talk(agent, f"web:{session_id}", customer_says, "Estou vendo aqui.")
        assert widget.next("bot_uttered")["text"] == "Estou vendo aqui."
        agent.send("typing_start", conversation_id=conversation_id)
        assert widget.next("typing", timeout=10) == {"typing": True}
        agent.event("agent_typing", lambda d: d["conversation_id"] == conversation_id and d["typing"])
        agent.send("send_message", conversation_id=conversation_id, text="Pronto, resolvido.")
        assert widget.next("bot_uttered")["text"] == "Pronto, resolvido."
        check_transcript_and_close(agent, conversation_id, "Estou vendo aqui.")
        assert "encerrado" in widget.next("bot_uttered")["text"]
        question = widget.next("bot_uttered")
        assert "De 1 a 5" in question["text"] and len(question["quick_replies"]) == 5
        thanks = widget.say(CSAT_4)
        assert "Obrigado pela avaliacao" in thanks[0]["text"]
        csat_of(agent, conversation_id, 4)
        assert widget.say("oi")  # the bot answers again
    finally:
        widget.close()


# -- plain WebSocket -------------------------------------------------------------

def test_websocket_customer_reaches_an_agent_and_comes_back(rasa_server, agent):
    session_id = f"dw-{uuid.uuid4().hex[:10]}"
    token = jwt.encode({"session_id": session_id}, WEBSOCKET_JWT_SECRET, algorithm="HS256")
    url = f"{rasa_server.url.replace('http', 'ws')}/ws/chat/{session_id}?token={token}"

    async def frame(ws, kind, check=lambda data: True):
        while True:
            got = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if got["type"] == kind and check(got["data"]):
                return got["data"]

    async def turn(ws, message):
        await ws.send(json.dumps({"type": "chat", "data": {"message": message}}))
        replies = []
        while True:
            got = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if got["type"] == "chat":
                replies.append(got["data"])
            if got["type"] == "typing" and got["data"]["active"] is False and (replies or message != "oi"):
                return replies

    async def scenario():
        async with websockets.connect(url) as ws:
            await frame(ws, "connection")
            replies = await turn(ws, "quero falar com um atendente")
            assert "fila" in " ".join(r.get("text", "") for r in replies)
            loop = asyncio.get_running_loop()
            queued = await loop.run_in_executor(None, agent.find_queued, f"web:{session_id}")
            await loop.run_in_executor(None, lambda: agent.ok("POST", f"/conversations/{queued['id']}/claim"))
            assert await turn(ws, "minha internet ta caindo toda hora") == []
            await loop.run_in_executor(None, agent.customer_message, queued["id"],
                                       "minha internet ta caindo toda hora")
            agent.send("typing_start", conversation_id=queued["id"])
            assert (await frame(ws, "typing", lambda d: d["active"])) == {"active": True}
            await loop.run_in_executor(None, lambda: agent.ok(
                "POST", f"/conversations/{queued['id']}/messages", status=201, json={"text": "Oi, aqui e o Beto."}))
            assert (await frame(ws, "chat"))["text"] == "Oi, aqui e o Beto."
            await loop.run_in_executor(None, check_transcript_and_close, agent, queued["id"], "Oi, aqui e o Beto.")
            await frame(ws, "chat", lambda d: "encerrado" in d.get("text", ""))
            question = await frame(ws, "chat", lambda d: "De 1 a 5" in d.get("text", ""))
            assert len(question["buttons"]) == 5
            thanks = await turn(ws, CSAT_4)
            assert "Obrigado pela avaliacao" in thanks[0]["text"]
            await loop.run_in_executor(None, csat_of, agent, queued["id"], 4)
            assert await turn(ws, "oi")

    asyncio.run(scenario())


# -- leaving the queue -------------------------------------------------------------

def test_the_customer_leaves_the_queue_and_the_bot_answers_again(rasa_server, agent, redis_client, key_prefix):
    session_id = f"leave-{uuid.uuid4().hex[:10]}"
    chat(rasa_server, session_id, "me passa pra um atendente")
    queued = agent.find_queued(f"api:{session_id}")
    assert chat(rasa_server, session_id, "cancelar atendimento")["messages"] == []
    closed = agent.event("conversation_closed", lambda d: d["conversation"]["id"] == queued["id"])
    assert closed["conversation"]["status"] == "closed"
    later_texts(rasa_server, session_id, "cancelei o atendimento humano")
    stored = redis_client.hgetall(f"{key_prefix}:desk:conv:{queued['id']}")
    assert stored["resolution"] == "cancelled_by_customer" and stored["closed_by"] == "customer"
    assert chat(rasa_server, session_id, "oi")["messages"]  # the bot is back


# -- queue position notices -----------------------------------------------------

def test_a_waiting_customer_hears_when_they_move_up(rasa_server, agent):
    """Test settings: checked every 1 s, at most one notice per 2 s per customer."""
    first, second = (f"pos-{uuid.uuid4().hex[:10]}" for _ in range(2))
    chat(rasa_server, first, "quero falar com um atendente")
    said = "\n".join(m.get("text", "") for m in chat(rasa_server, second, "quero falar com um atendente")["messages"])
    ahead = agent.find_queued(f"api:{first}")
    mine = agent.find_queued(f"api:{second}")
    assert mine["position"] > ahead["position"]
    assert f"posicao {mine['position']}" in said
    time.sleep(2.5)  # past the minimum gap since the handoff told the position
    agent.ok("POST", f"/conversations/{ahead['id']}/claim")
    messages = later_texts(rasa_server, second, "da fila. Espera estimada")
    assert len([m for m in messages if "da fila. Espera estimada" in m.get("text", "")]) == 1
    agent.ok("POST", f"/conversations/{ahead['id']}/close", json={"resolution": "teste"})


# -- a new session while waiting ---------------------------------------------------

def test_a_new_session_while_queued_keeps_the_bot_paused(rasa_server, agent):
    """The customer waited over an hour (session expiry): the bot must not wake
    up and answer while the conversation is still with the desk."""
    session_id = f"late-{uuid.uuid4().hex[:10]}"
    chat(rasa_server, session_id, "quero falar com um atendente")
    queued = agent.find_queued(f"api:{session_id}")
    old = time.time() - 2 * 3600  # as if the last message were two hours old
    answer = rasa_server.api("POST", f"/conversations/api:{session_id}/tracker/events",
                             json=[{"event": "user", "text": "ainda to aqui", "timestamp": old,
                                    "parse_data": {"intent": {"name": "greet", "confidence": 1.0}}}])
    assert answer.status_code == 200, answer.text
    assert chat(rasa_server, session_id, "alguem vai me atender?")["messages"] == []
    events = rasa_server.tracker(f"api:{session_id}")["events"]
    assert [e["event"] for e in events].count("session_started") >= 2
    agent.customer_message(queued["id"], "alguem vai me atender?")


# -- two replicas ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def second_replica(model_path, server_env, log_dir, action_server, rasa_server):
    from testing.rasa_server import RasaServer

    server = RasaServer(model_path, server_env, log_dir, name="rasa-desk-replica").start()
    yield server
    server.stop()


def test_customer_on_one_replica_and_agent_on_another(rasa_server, second_replica, redis_settings, key_prefix):
    """State and events live in Redis: the widget talks to replica 1, the
    atendente's API calls and /desk/ws go to replica 2."""
    other = DeskAgent(second_replica, create_agent(redis_settings.url, key_prefix)).online().connect()
    widget = WidgetClient(rasa_server.url).connect()
    try:
        session_id = widget.session()
        widget.say("quero falar com um atendente")
        queued = other.find_queued(f"web:{session_id}")
        other.ok("POST", f"/conversations/{queued['id']}/claim")
        assert widget.say("to esperando aqui") == []
        other.customer_message(queued["id"], "to esperando aqui")
        other.ok("POST", f"/conversations/{queued['id']}/messages", status=201, json={"text": "Cheguei!"})
        assert widget.next("bot_uttered")["text"] == "Cheguei!"
        other.ok("POST", f"/conversations/{queued['id']}/close", json={"resolution": "ok"})
        assert "encerrado" in widget.next("bot_uttered")["text"]
    finally:
        widget.close()
        other.close()


def test_agent_assist_suggests_from_the_knowledge_base_and_sends_nothing(rasa_server, graph_api, agent):
    wa_id = new_wa_id()
    say(rasa_server, text(wa_id, "quero falar com um atendente"))
    queued = agent.find_queued(f"wa:{wa_id}")
    agent.ok("POST", f"/conversations/{queued['id']}/claim")
    question = "vcs tem ip fixo? preciso pra camera, meu cpf e 529.982.247-25"
    say(rasa_server, text(wa_id, question))
    agent.customer_message(queued["id"], question)
    before = len(bodies(graph_api, wa_id))
    suggestion = agent.ok("POST", f"/conversations/{queued['id']}/suggestion")["suggestion"]
    assert suggestion["source"] in ("knowledge", "llm") and "IP" in suggestion["text"]
    assert suggestion["passages"][0]["ref"].startswith("ip_fixo.md")
    assert "529.982.247-25" not in suggestion["answering"] and "52998224725" not in str(suggestion)
    time.sleep(1)
    assert len(bodies(graph_api, wa_id)) == before  # a suggestion is never sent by itself
    assert agent.api("POST", "/conversations/nao-existe/suggestion").status_code == 404
