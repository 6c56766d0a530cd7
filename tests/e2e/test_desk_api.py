"""The desk API's guarantees on the real server: atomic claims, tokens, access, bad input.

Conversations for these tests are queued directly through ``bot.desk`` (as
``action_handoff`` does) in the test Redis; everything else goes over HTTP
and /desk/ws like the console.
"""
from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
import requests
import websocket
from redis import asyncio as aioredis

from bot.desk import Desk
from tests.conftest import DESK_JWT_SECRET
from testing.desk_client import DeskAgent, create_agent
from tests.e2e.test_rest_channel import own_redis, server_on_own_redis  # noqa: F401  (fixtures)

pytestmark = pytest.mark.e2e


def queue_conversations(redis_url: str, prefix: str, count: int) -> list:
    async def run():
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        try:
            desk = Desk.create(client, prefix)
            return [(await desk.conversations.open("rest_api", f"api:claim-{uuid.uuid4().hex[:10]}",
                                                   "pedido do cliente", 10))[0].id
                    for _ in range(count)]
        finally:
            await client.close()
    return asyncio.run(run())


@pytest.fixture(scope="module")
def agents(rasa_server, redis_settings, key_prefix):
    return [DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix)) for _ in range(20)]


def test_twenty_agents_claiming_ten_conversations_at_once_give_one_agent_each(
        rasa_server, agents, redis_settings, key_prefix):
    ids = queue_conversations(redis_settings.url, key_prefix, 10)
    attempts = [(agent, conversation_id) for conversation_id in ids for agent in agents]
    with ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(lambda pair: (pair[0].username, pair[1],
                                              pair[0].api("POST", f"/conversations/{pair[1]}/claim")),
                                attempts))
    for conversation_id in ids:
        answers = [(user, r) for user, cid, r in results if cid == conversation_id]
        winners = [user for user, r in answers if r.status_code == 200]
        assert len(winners) == 1, [r.status_code for _, r in answers]
        assert all(r.status_code == 409 for user, r in answers if user not in winners)
        other = next(a for a in agents if a.username != winners[0])
        assert other.api("GET", f"/conversations/{conversation_id}").status_code == 403
        holder = next(a for a in agents if a.username == winners[0])
        assert holder.ok("GET", f"/conversations/{conversation_id}")["conversation"]["agent"] == winners[0]


def forged(**overrides) -> str:
    now = int(time.time())
    claims = {"sub": "nobody", "role": "admin", "jti": uuid.uuid4().hex, "iat": now, "exp": now + 600}
    claims.update(overrides.pop("claims", {}))
    return jwt.encode(claims, overrides.pop("secret", DESK_JWT_SECRET), algorithm=overrides.pop("alg", "HS256"))


def test_expired_forged_and_alg_none_tokens_are_401(rasa_server, agents):
    real = agents[0]
    claims = jwt.decode(real.token, DESK_JWT_SECRET, algorithms=["HS256"])
    expired = jwt.encode({**claims, "iat": claims["iat"] - 7200, "exp": int(time.time()) - 60},
                         DESK_JWT_SECRET, algorithm="HS256")
    wrong_key = jwt.encode(claims, "another-secret-of-at-least-32-characters!!", algorithm="HS256")
    alg_none = jwt.encode(claims, None, algorithm="none")
    for token in (expired, wrong_key, alg_none, "not-a-jwt", ""):
        answer = requests.get(f"{rasa_server.url}/desk/api/queue",
                              headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert answer.status_code == 401, (token, answer.text)
        assert answer.json()["detail"]
    assert requests.get(f"{rasa_server.url}/desk/api/queue", timeout=30).status_code == 401
    for token in (alg_none, expired):
        ws = websocket.create_connection(rasa_server.url.replace("http", "ws") + "/desk/ws?token=" + token,
                                         timeout=10)
        opcode, frame = ws.recv_data_frame(True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE
        assert int.from_bytes(frame.data[:2], "big") == 1008


def test_first_frame_auth_and_logout_revokes(rasa_server, redis_settings, key_prefix):
    agent = DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix))
    ws = websocket.create_connection(rasa_server.url.replace("http", "ws") + "/desk/ws", timeout=10)
    ws.send('{"type": "auth", "data": {"token": "%s"}}' % agent.token)
    ws.send('{"type": "ping"}')
    assert '"pong"' in ws.recv()
    ws.close()
    assert agent.api("POST", "/auth/logout").status_code == 204
    assert agent.api("GET", "/me").status_code == 401


def test_bad_credentials_are_401_and_bad_json_400(rasa_server, agents):
    answer = requests.post(f"{rasa_server.url}/desk/api/auth/login",
                           json={"username": agents[0].username, "password": "wrong-password"}, timeout=30)
    assert answer.status_code == 401
    answer = requests.post(f"{rasa_server.url}/desk/api/auth/login", data=b"{not json", timeout=30)
    assert answer.status_code == 400 and answer.json()["field"] == "body"


def test_another_agents_conversation_is_403_unknown_404_bad_fields_422(
        rasa_server, agents, redis_settings, key_prefix):
    ana, beto = agents[0], agents[1]
    [conversation_id] = queue_conversations(redis_settings.url, key_prefix, 1)
    ana.ok("POST", f"/conversations/{conversation_id}/claim")
    assert beto.api("GET", f"/conversations/{conversation_id}").status_code == 403
    assert beto.api("POST", f"/conversations/{conversation_id}/messages",
                    json={"text": "oi"}).status_code == 403
    assert beto.api("POST", f"/conversations/{conversation_id}/close",
                    json={"resolution": "x"}).status_code == 403
    assert ana.api("GET", "/conversations/does-not-exist").status_code == 404
    assert ana.api("POST", "/conversations/does-not-exist/claim").status_code == 404
    for body, field in (({"text": ""}, "text"), ({"text": "x" * 4097}, "text"),
                        ({"text": 5}, "text"), ({"texto": "oi"}, "texto")):
        answer = ana.api("POST", f"/conversations/{conversation_id}/messages", json=body)
        assert answer.status_code == 422 and answer.json()["field"] == field, answer.text
    answer = ana.api("POST", f"/conversations/{conversation_id}/close", json={"resolution": ""})
    assert answer.status_code == 422 and answer.json()["field"] == "resolution"
    answer = ana.api("POST", f"/conversations/{conversation_id}/transfer", json={"to": "ninguem", "reason": "x"})
    assert answer.status_code == 422 and answer.json()["field"] == "to"
    answer = ana.api("GET", "/conversations", params={"status": "pending"})
    assert answer.status_code == 422 and answer.json()["field"] == "status"
    answer = ana.api("POST", "/me/status", json={"status": "dormindo"})
    assert answer.status_code == 422 and answer.json()["field"] == "status"
    assert ana.api("GET", "/users").status_code == 403  # atendentes do not manage users
    # the claim of a conversation already taken
    assert beto.api("POST", f"/conversations/{conversation_id}/claim").status_code == 409


def test_transfer_metrics_agents_and_user_admin(rasa_server, agents, redis_settings, key_prefix):
    ana, beto = agents[2], agents[3]
    admin = DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix, role="admin"))
    [conversation_id] = queue_conversations(redis_settings.url, key_prefix, 1)
    ana.ok("POST", f"/conversations/{conversation_id}/claim")
    moved = ana.ok("POST", f"/conversations/{conversation_id}/transfer",
                   json={"to": beto.username, "reason": "assunto financeiro"})["conversation"]
    assert moved["agent"] == beto.username and moved["transfers"][0]["reason"] == "assunto financeiro"
    assert ana.api("GET", f"/conversations/{conversation_id}").status_code == 403
    assert beto.ok("GET", f"/conversations/{conversation_id}")["conversation"]["status"] == "in_progress"

    metrics = admin.ok("GET", "/metrics")
    assert {"active", "in_queue", "resolved_today", "agents_online", "agents_busy",
            "average_wait_seconds", "average_handling_seconds", "csat_average"} <= set(metrics)
    assert metrics["active"] >= 1
    listed = {a["username"]: a for a in admin.ok("GET", "/agents")["agents"]}
    assert listed[beto.username]["active_conversations"] >= 1

    created = admin.ok("POST", "/users", status=201, json={
        "username": "nova.atendente", "name": "Nova", "role": "atendente", "password": "Uma-senha-boa1"})
    assert created["user"]["role"] == "atendente"
    assert admin.api("POST", "/users", json={"username": "nova.atendente", "name": "N", "role": "atendente",
                                             "password": "Uma-senha-boa1"}).status_code == 409
    bad = admin.api("POST", "/users", json={"username": "x", "name": "N", "role": "chefe", "password": "12345678"})
    assert bad.status_code == 422 and bad.json()["field"] in ("username", "role")
    nova = DeskAgent(rasa_server, "nova.atendente", "Uma-senha-boa1")
    assert admin.ok("PATCH", "/users/nova.atendente", json={"disabled": True})["user"]["disabled"] is True
    assert nova.api("GET", "/me").status_code == 401  # a disabled agent's token stops working
    assert admin.api("PATCH", "/users/ninguem", json={"name": "X"}).status_code == 404


def test_redis_down_is_503_for_the_api(server_on_own_redis, own_redis, key_prefix):
    server = server_on_own_redis
    agent = DeskAgent(server, create_agent(f"redis://127.0.0.1:{own_redis['port']}/0", key_prefix))
    assert agent.api("GET", "/queue").status_code == 200
    own_redis["process"].terminate()
    own_redis["process"].wait(timeout=10)
    for method, path, body in (("GET", "/queue", None), ("GET", "/me", None),
                               ("POST", "/conversations/x/claim", None),
                               ("POST", "/auth/login", {"username": "a", "password": "b"})):
        answer = agent.api(method, path, json=body)
        assert answer.status_code == 503, (path, answer.text)
        assert "Redis" in answer.json()["detail"]


def test_refresh_swaps_the_token_and_spends_the_old_one(rasa_server, redis_settings, key_prefix):
    agent = DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix))
    old = agent.token
    fresh = agent.ok("POST", "/auth/refresh")
    assert fresh["token"] != old and fresh["user"]["username"] == agent.username and fresh["expires_at"]
    agent.token = fresh["token"]
    assert agent.ok("GET", "/me")["username"] == agent.username
    spent = requests.post(f"{rasa_server.url}/desk/api/auth/refresh", headers={"Authorization": f"Bearer {old}"},
                          timeout=30)
    assert spent.status_code == 401 and "revoked" in spent.json()["detail"]
    assert requests.post(f"{rasa_server.url}/desk/api/auth/refresh", timeout=30).status_code == 401


def test_users_are_listed_by_page_role_and_activity(rasa_server, redis_settings, key_prefix):
    admin = DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix, role="admin"))
    for n in range(3):
        create_agent(redis_settings.url, key_prefix, role="supervisor")
    def every(query: str = "") -> list:
        users, page = [], 1
        while True:
            answer = admin.ok("GET", f"/users?limit=200&page={page}&{query}")
            users += answer["users"]
            if page * 200 >= answer["total"]:
                return users
            page += 1

    everyone = {"users": every()}
    supervisors = admin.ok("GET", "/users?role=supervisor&limit=2")
    assert supervisors["limit"] == 2 and supervisors["page"] == 1 and len(supervisors["users"]) == 2
    assert supervisors["total"] == sum(u["role"] == "supervisor" for u in everyone["users"]) >= 3
    second = admin.ok("GET", "/users?role=supervisor&limit=2&page=2")["users"]
    assert not {u["username"] for u in second} & {u["username"] for u in supervisors["users"]}
    disabled = next(u for u in everyone["users"] if u["role"] == "supervisor")["username"]
    admin.ok("PATCH", f"/users/{disabled}", json={"disabled": True})
    inactive = every("is_active=false")
    assert disabled in {u["username"] for u in inactive} and all(not u["is_active"] for u in inactive)
    assert disabled not in {u["username"] for u in every("is_active=true")}
    for query, field in (("page=0", "page"), ("limit=201", "limit"), ("limit=x", "limit"), ("role=chefe", "role"),
                         ("is_active=sim", "is_active")):
        answer = admin.api("GET", f"/users?{query}")
        assert answer.status_code == 422 and answer.json()["field"] == field, query
    weak = admin.api("POST", "/users", json={"username": "fraca", "name": "F", "role": "atendente",
                                             "password": "senhafraca123"})
    assert weak.status_code == 422 and weak.json()["field"] == "password" and "upper-case" in weak.json()["detail"]


def test_labels_private_notes_and_search_through_the_api(rasa_server, redis_settings, key_prefix):
    from tests.e2e.test_desk_departments import open_in

    ana = DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix))
    bia = DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix))
    boss = DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix, role="supervisor"))
    [conversation_id] = open_in(redis_settings, key_prefix, "suporte", 1)
    ana.ok("POST", f"/conversations/{conversation_id}/claim")
    labelled = ana.ok("POST", f"/conversations/{conversation_id}/labels", json={"label": "Retorno"})["conversation"]
    assert labelled["labels"] == ["retorno"]
    bad = ana.api("POST", f"/conversations/{conversation_id}/labels", json={"label": "com espaco"})
    assert bad.status_code == 422 and bad.json()["field"] == "label"
    note = ana.ok("POST", f"/conversations/{conversation_id}/notes", status=201,
                  json={"text": "ligar de volta depois das 18h"})["note"]
    assert note["by"] == ana.username and note["text"] == "ligar de volta depois das 18h"
    assert bia.api("POST", f"/conversations/{conversation_id}/notes", json={"text": "x"}).status_code == 403
    ana.ok("POST", f"/conversations/{conversation_id}/close", json={"resolution": "resolvido"})

    found = boss.ok("GET", f"/search?label=retorno&agent={ana.username}")
    assert [c["id"] for c in found["conversations"]] == [conversation_id] and found["total"] == 1
    assert found["conversations"][0]["internal_notes"][0]["text"] == "ligar de volta depois das 18h"
    assert [c["id"] for c in ana.ok("GET", "/search?label=retorno")["conversations"]] == [conversation_id]
    assert bia.ok("GET", "/search?label=retorno")["conversations"] == []  # not hers to read
    for query, field in (("status=aberta", "status"), ("cpf=1", "cpf"), ("limit=0", "limit"),
                         ("since=ontem", "since"), (f"protocol={'9' * 65}", "protocol")):
        answer = boss.api("GET", f"/search?{query}")
        assert answer.status_code == 422 and answer.json()["field"] == field, query
    assert boss.ok("DELETE", f"/conversations/{conversation_id}/labels/retorno")["conversation"].get("labels") is None
