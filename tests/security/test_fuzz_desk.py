"""Fuzz of the desk API (channels/desk/) on the shared Rasa server: login
with junk, then every route called by an atendente, a supervisor and an
admin with junk bodies, ids and query strings, and with junk tokens; and
junk frames on an authenticated ``/desk/ws`` (it must answer a ping after
each, or have closed on purpose, never with 1011).

Properties: no 5xx but the 503 of an unavailable Redis, no traceback in the
logs, and afterwards an atendente still logs in and reads the queue.
Logout is left out of the authed calls (it would end the fuzzing agent's
token); the login lock of the test address is cleared after the junk logins
so the other desk tests are not locked out.
"""
from __future__ import annotations

import json

import pytest
import requests
import websocket
from hypothesis import example, given
from hypothesis import strategies as st

from testing.desk_client import DeskAgent, create_agent
from tests.conftest import CHAT_API_KEY
from tests.security.conftest import (DEEP, JUNK, LONE_SURROGATES, LogWindow, Outcomes, dumps,
                                     fuzz_settings, junk_value, url_text)

pytestmark = pytest.mark.e2e

ID = "<id>"
ROUTES = [
    ("GET", "/me"), ("POST", "/me/status"), ("GET", "/conversations"), ("GET", f"/conversations/{ID}"),
    ("POST", f"/conversations/{ID}/claim"), ("POST", f"/conversations/{ID}/messages"),
    ("POST", f"/conversations/{ID}/transfer"), ("POST", f"/conversations/{ID}/close"),
    ("GET", "/queue"), ("GET", "/metrics"), ("GET", "/agents"), ("GET", "/users"),
    ("POST", "/users"), ("PATCH", f"/users/{ID}"),
    ("POST", "/whatsapp/send"), ("POST", "/whatsapp/send-template"), ("GET", f"/whatsapp/window/{ID}"),
    ("GET", "/outages"), ("POST", "/outages"), ("GET", f"/outages/{ID}"), ("PATCH", f"/outages/{ID}"),
    ("GET", "/whatsapp/templates"), ("POST", f"/conversations/{ID}/template"), ("POST", "/auth/refresh"),
    ("GET", "/departments"), ("POST", "/departments"), ("PATCH", f"/departments/{ID}"),
    ("GET", "/canned-replies"), ("POST", "/canned-replies"), ("PATCH", f"/canned-replies/{ID}"),
    ("DELETE", f"/canned-replies/{ID}"),
    ("POST", f"/conversations/{ID}/labels"), ("DELETE", f"/conversations/{ID}/labels/{ID}"),
    ("POST", f"/conversations/{ID}/notes"), ("GET", "/search"), ("POST", f"/conversations/{ID}/suggestion"),
    ("GET", "/reports"), ("POST", f"/conversations/{ID}/attachments"),
]
FIELDS = ["username", "password", "name", "role", "status", "text", "to", "reason", "resolution", "disabled",
          "type", "content", "url", "caption", "template_name", "language", "components", "area", "description",
          "expected_end", "parameters", "slug", "department", "departments", "note", "to_agent_id", "shortcut", "scope", "assignment", "capacity", "label"]
BODIES = st.one_of(
    junk_value().map(dumps), DEEP.map(str.encode), st.binary(max_size=100),
    st.dictionaries(st.sampled_from(FIELDS), st.one_of(JUNK, st.text(max_size=30)), max_size=4).map(dumps),
)
IDS = st.one_of(st.text(min_size=1, max_size=40), LONE_SURROGATES, st.just("a" * 2000), st.just("..%2F..%2Fetc"))

DESK_KINDS = st.sampled_from(["join_conversation", "leave_conversation", "send_message", "typing_start",
                              "typing_stop", "auth", "ping", "x"])
DESK_DATA = st.one_of(JUNK, st.fixed_dictionaries({"conversation_id": st.one_of(IDS, JUNK)},
                                                  optional={"text": st.one_of(JUNK, st.text())}))
DESK_FRAMES = st.one_of(
    junk_value().map(lambda v: dumps(v).decode()), DEEP, st.binary(max_size=60),
    st.builds(lambda kind, data: json.dumps({"type": kind, "data": data}), DESK_KINDS, DESK_DATA),
)


def clear_login_lock(redis_client, key_prefix: str) -> None:
    for key in redis_client.scan_iter(f"{key_prefix}*login*failures*"):
        redis_client.delete(key)


def test_fuzz_desk_api(rasa_server, action_server, redis_settings, redis_client, key_prefix, figures):
    outcomes = Outcomes("desk API /desk/api/*")
    window = LogWindow(rasa_server, action_server)
    api = f"{rasa_server.url}/desk/api"
    agents = {role: DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix, role))
              for role in ("atendente", "supervisor", "admin")}

    @fuzz_settings(60)
    @given(body=BODIES)
    @example(body=b'{"username": ' * 20_000 + b"1" + b"}" * 20_000)
    @example(body=dumps({"username": "ana\ud800", "password": "x\udfff"}))
    def login(body: bytes) -> None:
        answer = requests.post(f"{api}/auth/login", data=body, timeout=30,
                               headers={"Content-Type": "application/json"})
        outcomes.record("POST /desk/api/auth/login", answer.status_code, repr(body[:200]))

    def call(route, role: str, item: str, body: bytes, query) -> None:
        method, path = route
        path = path.replace(ID, url_text(item))
        token = agents[role].token if role in agents else "eyJhbGciOiJub25lIn0.e30."
        params = "&".join(f"{url_text(k)}={url_text(v)}" for k, v in query.items())
        answer = requests.request(method, f"{api}{path}?{params}", data=None if method == "GET" else body,
                                  headers={"Authorization": f"Bearer {token}",
                                           "Content-Type": "application/json"}, timeout=30)
        outcomes.record(f"{method} /desk/api{route[1]}", answer.status_code,
                        f"{role} {path[:120]} {params[:80]} {body[:160]!r}")
        if path == "/auth/refresh" and answer.status_code == 200:  # rotation: the old token is spent
            agents[role].token = answer.json()["token"]

    @fuzz_settings(240)
    @given(route=st.sampled_from(ROUTES), role=st.sampled_from(sorted(agents) + ["junk-token"]),
           item=IDS, body=BODIES, query=st.dictionaries(st.sampled_from(["status", "limit", "x", "label", "phone", "document",
                                                                         "since", "page", "format", "until"]),
                                                        st.text(max_size=20), max_size=2))
    def authed(route, role: str, item: str, body: bytes, query) -> None:
        call(route, role, item, body, query)

    ws_url = rasa_server.url.replace("http", "ws") + "/desk/ws?token="

    @fuzz_settings(80)
    @given(role=st.sampled_from(sorted(agents)), frame=DESK_FRAMES)
    def desk_ws(role: str, frame) -> None:
        ws = websocket.create_connection(ws_url + agents[role].token, timeout=30)
        try:
            (ws.send_binary if isinstance(frame, bytes) else ws.send)(frame)
            ws.send(json.dumps({"type": "ping"}))
            while json.loads(ws.recv())["type"] != "pong":
                pass
            outcomes.record("WS /desk/ws", 101, "")
        except websocket.WebSocketConnectionClosedException:
            code = ws.status if isinstance(ws.status, int) else 1006
            outcomes.record("WS /desk/ws (closed)", 1011 if code in (1006, 1011) else code, f"{role} {frame[:200]!r}",
                            allowed=lambda status: status != 1011)
        finally:
            ws.close()

    try:
        login()
    finally:
        clear_login_lock(redis_client, key_prefix)
    for route in ROUTES:  # every route by every role at least once, whatever Hypothesis draws
        for role in agents:
            call(route, role, "x\ud800", b'{"conversation_id": [], "status": {}}', {"limit": "-1"})
    try:
        authed()
        desk_ws()
    finally:  # the fuzzing agents must not count as online for the tests after this one
        for agent in agents.values():
            agent.api("POST", "/me/status", json={"status": "offline"})

    tracebacks = window.tracebacks()
    figures.add(outcomes.summary() + f", {len(tracebacks)} tracebacks in the logs")
    after = DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix))
    problems = outcomes.distinct_failures() + tracebacks[:5]
    assert not problems, "\n".join(problems)
    assert after.api("GET", "/queue").status_code == 200
    assert [a["username"] for a in after.ok("GET", "/agents")["agents"] if a.get("status") == "online"
            and a["username"] in {agent.username for agent in agents.values()}] == []


FILE_HEADS = st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"%PDF-1.4", b"PK\x03\x04", b"OggS",
                              b"<svg onload=alert(1)>", b"GIF89a"])
FILE_NAMES = st.one_of(st.text(max_size=60), LONE_SURROGATES, st.just("../../etc/passwd"), st.just("a" * 5000))


def test_fuzz_media_uploads_and_links(rasa_server, redis_settings, key_prefix, figures):
    """Junk files (real and fake magic numbers, odd names and types) to a held
    conversation and to junk ids, and junk /media links: never a 5xx; a file that
    got through is a real JPEG, PNG, PDF or Office file."""
    outcomes = Outcomes("desk media (attachments, /media links)")
    window = LogWindow(rasa_server)
    agent = DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix))
    session_id = f"fuzz-media-{key_prefix[-6:]}"
    requests.post(f"{rasa_server.url}/api/v1/chat", json={"session_id": session_id, "message": "quero um atendente"},
                  headers={"Authorization": f"Bearer {CHAT_API_KEY}"}, timeout=60)
    queued = agent.find_queued(f"api:{session_id}")
    agent.ok("POST", f"/conversations/{queued['id']}/claim")

    @fuzz_settings(60)
    @given(head=FILE_HEADS, tail=st.binary(max_size=300), name=FILE_NAMES, mime=st.text(max_size=40),
           caption=st.one_of(st.none(), st.text(max_size=50), LONE_SURROGATES), item=st.one_of(st.just(queued["id"]), IDS))
    def upload(head, tail, name, mime, caption, item) -> None:
        fields = {"caption": caption.encode("utf-8", "surrogatepass")} if caption is not None else {}
        answer = agent.api("POST", f"/conversations/{url_text(item)}/attachments", data=fields,
                           files={"file": (name.encode("utf-8", "surrogatepass").decode("latin-1"), head + tail,
                                           mime.encode("ascii", "replace").decode())})
        outcomes.record("POST /desk/api/conversations/<id>/attachments", answer.status_code, f"{head!r} {name[:40]!r}")
        if answer.status_code == 201:  # the REST channel keeps it in the outbox: accepted only if it is a real file
            assert answer.json()["message"]["media"]["mime"] in ("image/png", "image/jpeg", "application/pdf",
                                                                 "application/vnd.openxmlformats-officedocument"
                                                                 ".wordprocessingml.document",
                                                                 "application/vnd.openxmlformats-officedocument"
                                                                 ".spreadsheetml.sheet")

    @fuzz_settings(60)
    @given(item=IDS, expires=st.text(max_size=20), signature=st.one_of(st.text(max_size=80), LONE_SURROGATES))
    def link(item, expires, signature) -> None:
        answer = requests.get(f"{rasa_server.url}/media/{url_text(item)}?expires={url_text(expires)}"
                              f"&signature={url_text(signature)}", timeout=30)
        outcomes.record("GET /media/<id>", answer.status_code, f"{item[:40]!r} {expires!r}",
                        allowed=lambda status: status in (400, 403, 404))

    upload()
    link()
    agent.ok("POST", f"/conversations/{queued['id']}/close", json={"resolution": "fuzz"})
    tracebacks = window.tracebacks()
    figures.add(outcomes.summary() + f", {len(tracebacks)} tracebacks in the logs")
    problems = outcomes.distinct_failures() + tracebacks[:5]
    assert not problems, "\n".join(problems)
