"""The WhatsApp Cloud API connector against the real Rasa server, actions and Redis.

Deliveries are Meta's example webhook payloads, signed with the test app
secret; every message the bot sends lands at the local Graph API
(testing/fakes/graph_api.py), which is what the customer would see.
"""
from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional

import pytest
import requests

from channels.whatsapp.signature import sign
from testing.fakes import graph_api as graph_fake

pytestmark = pytest.mark.e2e

MARIA = "5511987650001"
MARIA_WITHOUT_NINTH_DIGIT = "551187650001"
JOAO = "5511987650002"


# --- Meta's webhook payloads ------------------------------------------------

def new_wa_id() -> str:
    return "55219" + "".join(random.choice("0123456789") for _ in range(8))


def new_wamid() -> str:
    return "wamid.HBgNNTUxMTk4NzY1MDAwMRUCABIYFDNB" + uuid.uuid4().hex.upper()


def message(wa_id: str, kind: str, content: Dict[str, Any], wamid: Optional[str] = None) -> Dict[str, Any]:
    return {"from": wa_id, "id": wamid or new_wamid(), "timestamp": str(int(time.time())),
            "type": kind, kind: content}


def text(wa_id: str, body: str, wamid: Optional[str] = None) -> Dict[str, Any]:
    return message(wa_id, "text", {"body": body}, wamid)


def button_reply(wa_id: str, payload: str, title: str = "Opcao") -> Dict[str, Any]:
    return message(wa_id, "interactive", {"type": "button_reply", "button_reply": {"id": payload, "title": title}})


def list_reply(wa_id: str, payload: str, title: str = "Opcao") -> Dict[str, Any]:
    return message(wa_id, "interactive", {"type": "list_reply", "list_reply": {
        "id": payload, "title": title, "description": "descricao"}})


def notification(*messages: Dict[str, Any], statuses: List[Dict[str, Any]] = (), name: str = "Cliente Teste"):
    """The ``whatsapp_business_account`` envelope Meta POSTs to the webhook."""
    senders = {m["from"] for m in messages if "from" in m}
    return {
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "551140040000",
                                 "phone_number_id": graph_fake.PHONE_NUMBER_ID},
                    **({"contacts": [{"profile": {"name": name}, "wa_id": s} for s in senders]} if senders else {}),
                    **({"messages": list(messages)} if messages else {}),
                    **({"statuses": list(statuses)} if statuses else {}),
                },
            }],
        }],
    }


def status(recipient: str, state: str, errors: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
    result = {"id": new_wamid(), "status": state, "timestamp": str(int(time.time())),
              "recipient_id": recipient,
              "conversation": {"id": uuid.uuid4().hex, "origin": {"type": "service"}},
              "pricing": {"billable": True, "pricing_model": "CBP", "category": "service"}}
    if errors:
        result["errors"] = errors
    return result


# --- talking to the webhook -------------------------------------------------

def webhook(rasa_server) -> str:
    return f"{rasa_server.url}/webhooks/whatsapp/webhook"


def deliver(rasa_server, payload: Any, signature: Optional[str] = "sign", raw: Optional[bytes] = None):
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        headers["X-Hub-Signature-256"] = sign(graph_fake.APP_SECRET, body)
    elif signature:
        headers["X-Hub-Signature-256"] = signature
    return requests.post(webhook(rasa_server), data=body, headers=headers, timeout=10)


def say(rasa_server, *messages: Dict[str, Any], **kwargs) -> None:
    answer = deliver(rasa_server, notification(*messages, **kwargs))
    assert answer.status_code == 200, answer.text


def bodies(graph_api, wa_id: str, kind: Optional[str] = None) -> List[Dict[str, Any]]:
    return [r.json for r in graph_api.sent(to=wa_id, kind=kind)]


def shown(body: Dict[str, Any]) -> str:
    """The text a customer reads in one outbound message."""
    if body["type"] == "text":
        return body["text"]["body"]
    if body["type"] == "interactive":
        return body["interactive"]["body"]["text"]
    return ""


def wait_text(graph_api, wa_id: str, snippet: str, timeout: float = 60) -> Dict[str, Any]:
    """The first message to ``wa_id`` showing ``snippet``, waiting for it."""
    return graph_api.wait_for(
        lambda: next((b for b in bodies(graph_api, wa_id) if snippet in shown(b)), None), timeout
    )


def read_receipts(graph_api, wamid: str) -> list:
    return [r for r in graph_api.sent(kind="read") if r.json["message_id"] == wamid]


def user_events(rasa_server, wa_id: str) -> List[Dict[str, Any]]:
    return [e for e in rasa_server.tracker(f"wa:{wa_id}")["events"] if e["event"] == "user"]


def wait_saved(rasa_server, graph_api, wa_id: str, count: int) -> None:
    """Rasa sends a turn's replies before it saves the tracker: wait for ``count`` user events."""
    graph_api.wait_for(lambda: len(user_events(rasa_server, wa_id)) >= count, timeout=30)


# --- verification and refusals ----------------------------------------------

def test_get_verification_echoes_the_challenge_only_for_our_token(rasa_server):
    good = {"hub.mode": "subscribe", "hub.verify_token": graph_fake.VERIFY_TOKEN, "hub.challenge": "1158201444"}
    answer = requests.get(webhook(rasa_server), params=good, timeout=10)
    assert answer.status_code == 200
    assert answer.text == "1158201444"
    assert answer.headers["Content-Type"].startswith("text/plain")

    for bad in ({**good, "hub.verify_token": "wrong"}, {**good, "hub.mode": "unsubscribe"},
                {"hub.challenge": "1158201444"}):
        assert requests.get(webhook(rasa_server), params=bad, timeout=10).status_code == 403


def test_missing_or_wrong_signature_is_refused_with_no_side_effects(rasa_server, graph_api, redis_client, key_prefix):
    wa_id = new_wa_id()
    forged = text(wa_id, "oi")
    payload = notification(forged)
    for signature in (None, "sha256=" + "0" * 64, "md5=abc", sign("another-secret", json.dumps(payload).encode())):
        answer = deliver(rasa_server, payload, signature=signature)
        assert answer.status_code == 403
        assert "X-Hub-Signature-256" in answer.json()["detail"]

    say(rasa_server, message(wa_id, "reaction", {"message_id": forged["id"], "emoji": "\U0001F44D"}))
    wait_text(graph_api, wa_id, "Recebi sua reacao")
    assert read_receipts(graph_api, forged["id"]) == []
    assert len(bodies(graph_api, wa_id, "text")) == 1  # only the reaction's answer
    assert not redis_client.exists(f"{key_prefix}:wa:seen:{forged['id']}")
    assert user_events(rasa_server, wa_id) == []


def test_bad_json_is_400_naming_the_problem(rasa_server):
    answer = deliver(rasa_server, None, raw=b'{"object": "whatsapp_business_account", "entry": [')
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("body is not valid JSON")

    answer = deliver(rasa_server, {"object": "whatsapp_business_account", "entry": {"id": "1"}})
    assert answer.status_code == 400
    assert "entry" in answer.json()["detail"]

    answer = deliver(rasa_server, notification({"type": "text", "text": {"body": "sem remetente"}}))
    assert answer.status_code == 400
    assert "messages[0]" in answer.json()["detail"]


# --- inbound types ----------------------------------------------------------

def test_text_gets_a_read_receipt_and_interactive_buttons_on_the_wire(rasa_server, graph_api):
    wa_id = new_wa_id()
    hello = text(wa_id, "oi, boa tarde")
    say(rasa_server, hello, name="Fulana de Tal")

    body = graph_api.wait_for(lambda: next(iter(bodies(graph_api, wa_id, "interactive")), None))
    [request] = [r for r in graph_api.sent(to=wa_id) if r.json is body]
    assert request.path == f"/v21.0/{graph_fake.PHONE_NUMBER_ID}/messages"
    assert request.headers["Authorization"] == f"Bearer {graph_fake.ACCESS_TOKEN}"
    assert body["messaging_product"] == "whatsapp" and body["recipient_type"] == "individual"
    interactive = body["interactive"]
    assert interactive["type"] == "button"
    buttons = [b["reply"] for b in interactive["action"]["buttons"]]
    assert [b["id"] for b in buttons] == ["/request_invoice", "/report_no_connection", "/request_human"]
    assert all(len(b["title"]) <= 20 for b in buttons)

    [receipt] = read_receipts(graph_api, hello["id"])
    assert receipt.json == {"messaging_product": "whatsapp", "status": "read", "message_id": hello["id"]}

    wait_saved(rasa_server, graph_api, wa_id, 1)
    [event] = user_events(rasa_server, wa_id)
    assert event["text"] == "oi, boa tarde" and event["input_channel"] == "whatsapp"
    assert event["message_id"] == hello["id"]
    assert event["metadata"]["profile_name"] == "Fulana de Tal"
    assert event["metadata"]["wa_id"] == wa_id
    assert event["metadata"]["phone_number_id"] == graph_fake.PHONE_NUMBER_ID


def test_button_list_and_template_replies_are_taken_as_payloads(rasa_server, graph_api):
    wa_id = new_wa_id()
    say(rasa_server, button_reply(wa_id, "/ask_business_hours", "Horarios"))
    wait_text(graph_api, wa_id, "Nosso atendimento humano funciona")
    say(rasa_server, list_reply(wa_id, "/ask_plans", "Planos"))
    wait_text(graph_api, wa_id, "Nossos planos de fibra")
    say(rasa_server, message(wa_id, "button", {"text": "Horario", "payload": "/ask_business_hours"}))
    graph_api.wait_for(lambda: sum("Nosso atendimento humano funciona" in shown(b) for b in bodies(graph_api, wa_id)) == 2)
    wait_saved(rasa_server, graph_api, wa_id, 3)
    intents = [e["parse_data"]["intent"]["name"] for e in user_events(rasa_server, wa_id)]
    assert intents == ["ask_business_hours", "ask_plans", "ask_business_hours"]


MEDIA = [
    # a voice note Meta cannot give us (unknown id): heard voice notes are in test_voice_notes.py
    ("audio", {"mime_type": "audio/ogg; codecs=opus", "sha256": "2yWl", "id": "1003383421387256", "voice": True},
     "Nao consegui ouvir seu audio"),
    # photos and PDFs Meta cannot give us (unknown ids): read ones are in test_receipts.py, test_boleto_photos.py
    ("image", {"mime_type": "image/jpeg", "sha256": "3hYr", "id": "1479537139650973"}, "Nao consegui abrir seu arquivo"),
    ("document", {"filename": "boleto.pdf", "mime_type": "application/pdf", "sha256": "Kc2H",
                  "id": "1376223850470843"}, "Nao consegui abrir seu arquivo"),
    ("video", {"mime_type": "video/mp4", "sha256": "a9Fe", "id": "1118430779556221"}, "nao consigo assistir videos"),
    ("sticker", {"mime_type": "image/webp", "sha256": "b8Lq", "id": "1238430779556221", "animated": False},
     "figurinha"),
    ("location", {"latitude": -23.5613, "longitude": -46.6565, "name": "Casa", "address": "Av. Paulista, 1000"},
     "endereco completo"),
    ("reaction", {"message_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3", "emoji": "\U0001F600"}, "Recebi sua reacao"),
]


@pytest.mark.parametrize("kind, content, answer", MEDIA, ids=[m[0] for m in MEDIA])
def test_what_the_bot_cannot_read_gets_a_reply_without_nlu(rasa_server, graph_api, kind, content, answer):
    wa_id = new_wa_id()
    incoming = message(wa_id, kind, content)
    say(rasa_server, incoming)
    wait_text(graph_api, wa_id, answer)
    assert read_receipts(graph_api, incoming["id"])
    assert user_events(rasa_server, wa_id) == []


def test_unsupported_message_gets_a_reply(rasa_server, graph_api):
    wa_id = new_wa_id()
    say(rasa_server, {"from": wa_id, "id": new_wamid(), "timestamp": str(int(time.time())), "type": "unsupported",
                      "errors": [{"code": 131051, "title": "Message type unknown",
                                  "message": "Message type unknown",
                                  "error_data": {"details": "Message type is currently not supported."}}]})
    wait_text(graph_api, wa_id, "Nao consegui abrir esse tipo de mensagem")


def test_statuses_are_not_answered_but_a_closed_window_gets_the_template(rasa_server, graph_api):
    wa_id = new_wa_id()
    say(rasa_server, statuses=[status(wa_id, "sent"), status(wa_id, "delivered"), status(wa_id, "read")])
    failed = status(wa_id, "failed", errors=[{"code": 131047, "title": "Re-engagement message",
                                              "message": "Re-engagement message",
                                              "error_data": {"details": "more than 24 hours have passed"}}])
    say(rasa_server, statuses=[failed])
    say(rasa_server, statuses=[failed])  # Meta retried: still one template
    template = graph_api.wait_for(lambda: bodies(graph_api, wa_id, "template"))
    say(rasa_server, message(wa_id, "reaction", {"message_id": failed["id"], "emoji": "\U0001F44D"}))
    wait_text(graph_api, wa_id, "Recebi sua reacao")
    assert len(bodies(graph_api, wa_id)) == 2  # the template and the reaction's answer
    assert template[0]["template"] == {"name": graph_fake.FALLBACK_TEMPLATE, "language": {"code": "pt_BR"}}


# --- de-duplication ---------------------------------------------------------

def test_the_same_delivery_five_times_at_once_gets_one_reply(rasa_server, graph_api):
    wa_id = new_wa_id()
    payload = notification(button_reply(wa_id, "/ask_business_hours", "Horarios"))
    wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    with ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(lambda _: deliver(rasa_server, payload), range(5)))
    assert [a.status_code for a in answers] == [200] * 5

    wait_text(graph_api, wa_id, "Nosso atendimento humano funciona")
    say(rasa_server, message(wa_id, "reaction", {"message_id": wamid, "emoji": "\U0001F44D"}))
    wait_text(graph_api, wa_id, "Recebi sua reacao")
    deliver(rasa_server, payload)  # and a retry a moment later
    say(rasa_server, message(wa_id, "sticker", {"id": "99", "mime_type": "image/webp"}))
    wait_text(graph_api, wa_id, "figurinha")
    assert sum("Nosso atendimento humano funciona" in shown(b) for b in bodies(graph_api, wa_id)) == 1
    assert len(read_receipts(graph_api, wamid)) == 1
    assert len(user_events(rasa_server, wa_id)) == 1


# --- a customer identified by phone -------------------------------------------

@pytest.mark.parametrize("wa_id", [MARIA, MARIA_WITHOUT_NINTH_DIGIT], ids=["with-9th-digit", "without-9th-digit"])
def test_maria_gets_her_invoice_by_phone(rasa_server, graph_api, wa_id):
    # Maria's numbers are also used by other suites: start her conversation afresh
    rasa_server.api("POST", f"/conversations/wa:{wa_id}/tracker/events",
                    json={"event": "restart"}).raise_for_status()
    say(rasa_server, button_reply(wa_id, "/request_invoice", "2a via / PIX"), name="Maria")
    wait_text(graph_api, wa_id, "Oi, Maria! Encontrei seu cadastro pelo numero deste WhatsApp.")
    closing = wait_text(graph_api, wa_id, "Posso ajudar em mais alguma coisa?")
    everything = "\n".join(shown(b) for b in bodies(graph_api, wa_id))
    assert "CPF" not in everything  # never asked
    assert "R$" in everything
    assert closing["type"] == "interactive" and closing["interactive"]["type"] == "button"
    assert [b["reply"]["id"] for b in closing["interactive"]["action"]["buttons"]] == ["/affirm", "/deny"]
    assert {r.to for r in graph_api.sent(to=wa_id)} == {wa_id}


def test_a_file_meta_cannot_serve_gets_asked_again_without_a_turn(rasa_server, graph_api):
    say(rasa_server, button_reply(JOAO, "/inform_payment_done", "Ja paguei"), name="Joao")
    wait_text(graph_api, JOAO, "Ainda nao consta o pagamento")
    wait_saved(rasa_server, graph_api, JOAO, 1)
    turns = len(user_events(rasa_server, JOAO))
    receipt = message(JOAO, "image", {"caption": "comprovante", "mime_type": "image/jpeg",
                                      "sha256": "3hYr", "id": "2479537139650973"})  # not a media id Meta knows
    say(rasa_server, receipt)
    wait_text(graph_api, JOAO, "Nao consegui abrir seu arquivo agora")
    assert len(user_events(rasa_server, JOAO)) == turns


# --- outbound through the connector's own output channel ---------------------

@pytest.fixture(scope="module")
def loop():
    """One event loop for the in-process sends (the Redis and HTTP clients bind to it)."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture
def output_channel(server_env, monkeypatch, loop):
    """What ``get_output_channel()`` gives the desk, with the test server's settings."""
    for name, value in server_env.items():
        if name.startswith(("WHATSAPP_", "REDIS_")):
            monkeypatch.setenv(name, value)
    from channels.whatsapp import WhatsAppInput

    channel = WhatsAppInput.from_credentials(None).get_output_channel()
    yield channel
    loop.run_until_complete(channel.graph.close())


def test_long_text_is_split_at_a_line_boundary(output_channel, loop, graph_api):
    wa_id = new_wa_id()
    line = "Linha de um texto comprido para o cliente ler com calma no WhatsApp."
    loop.run_until_complete(output_channel.send_text_message(f"wa:{wa_id}", "\n".join([line] * 150)))
    parts = [b["text"]["body"] for b in bodies(graph_api, wa_id, "text")]
    assert len(parts) == 3
    assert all(len(p) <= 4096 and p.endswith(line) for p in parts)
    assert sum(p.count(line) for p in parts) == 150


def test_many_choices_become_a_list_or_a_numbered_menu_answered_by_number(output_channel, loop, rasa_server, graph_api):
    wa_id = new_wa_id()
    choices = [{"title": f"Assunto numero {n} do atendimento", "payload": f"/ask_plans{{\"n\": \"{n}\"}}"}
               for n in range(1, 8)]
    loop.run_until_complete(output_channel.send_text_with_buttons(f"wa:{wa_id}", "Sobre o que quer falar?", choices))
    [listed] = bodies(graph_api, wa_id, "interactive")
    rows = listed["interactive"]["action"]["sections"][0]["rows"]
    assert listed["interactive"]["type"] == "list" and len(rows) == 7
    assert all(len(r["title"]) <= 24 for r in rows)

    many = [{"title": f"Opcao {n}", "payload": "/ask_business_hours" if n == 11 else f"/ask_plans{{\"n\": \"{n}\"}}"}
            for n in range(1, 13)]
    loop.run_until_complete(output_channel.send_text_with_buttons(f"wa:{wa_id}", "Escolha um assunto:", many))
    menu = wait_text(graph_api, wa_id, "Escolha um assunto:")
    assert "11. Opcao 11" in menu["text"]["body"]
    say(rasa_server, text(wa_id, "11"))
    wait_text(graph_api, wa_id, "Nosso atendimento humano funciona")
    wait_saved(rasa_server, graph_api, wa_id, 1)
    assert user_events(rasa_server, wa_id)[0]["parse_data"]["intent"]["name"] == "ask_business_hours"


def test_custom_json_and_images_are_sent_as_cloud_api_bodies(output_channel, loop, graph_api):
    wa_id = new_wa_id()
    template = {"type": "template", "template": {"name": "fatura_disponivel", "language": {"code": "pt_BR"}}}
    loop.run_until_complete(output_channel.send_custom_json(f"wa:{wa_id}", template))
    loop.run_until_complete(output_channel.send_image_url(f"wa:{wa_id}", "https://example.com/qr.png"))
    [sent_template, image] = bodies(graph_api, wa_id)
    assert sent_template["template"] == template["template"]
    assert image["image"] == {"link": "https://example.com/qr.png"}


def test_window_closed_sends_the_template_once(rasa_server, graph_api):
    wa_id = new_wa_id()
    graph_api.error_next(1, code=131047)
    say(rasa_server, text(wa_id, "oi"))
    template = graph_api.wait_for(lambda: bodies(graph_api, wa_id, "template"))
    assert template[0]["template"] == {"name": graph_fake.FALLBACK_TEMPLATE, "language": {"code": "pt_BR"}}
    assert [r.status for r in graph_api.requests if r.to == wa_id] == [400, 200]


def test_graph_server_error_is_retried(rasa_server, graph_api):
    wa_id = new_wa_id()
    graph_api.fail_next(1, status=500)
    say(rasa_server, button_reply(wa_id, "/ask_business_hours", "Horarios"))
    wait_text(graph_api, wa_id, "Nosso atendimento humano funciona")
    attempts = [r for r in graph_api.requests if r.to == wa_id]
    assert [r.status for r in attempts] == [500, 200]
    assert attempts[0].json == attempts[1].json


# --- Redis down ---------------------------------------------------------------

def test_without_redis_the_delivery_is_refused_with_503_so_meta_retries(
        model_path, server_env, log_dir, action_server, graph_api):
    from testing.rasa_server import RasaServer
    from testing.processes import free_port

    port = free_port()  # nothing listens there
    dead_redis = {"REDIS_URL": f"redis://127.0.0.1:{port}/0", "REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(port)}
    server = RasaServer(model_path, {**server_env, **dead_redis}, log_dir, name="rasa-no-redis").start()
    try:
        wa_id = new_wa_id()
        answer = deliver(server, notification(text(wa_id, "oi")))
        assert answer.status_code == 503
        assert "retry" in answer.json()["detail"]
    finally:
        server.stop()
    assert graph_api.sent(to=wa_id) == []
    assert "Redis unavailable" in server.log_text()


def test_asking_the_same_thing_three_times_brings_the_offer_of_an_atendente(rasa_server, graph_api):
    from bot.isp.demo_seed import generated_customers

    name, _, phone, _, _ = generated_customers()[28]  # identified by phone; no other test writes as him
    rasa_server.api("POST", f"/conversations/wa:{phone}/tracker/events", json={"event": "restart"}).raise_for_status()
    offer = "Vi que voce ja pediu isso algumas vezes"
    for turn, said in enumerate(("manda a 2 via do boleto", "me manda o boleto de novo", "cade o boleto")):
        before = len(bodies(graph_api, phone))
        say(rasa_server, text(phone, said), name=name)
        wait_text(graph_api, phone, "Fatura com vencimento em")
        graph_api.wait_for(lambda: any("Posso ajudar em mais alguma coisa?" in shown(b)
                                       for b in bodies(graph_api, phone)[before:]))
        answer = [shown(b) for b in bodies(graph_api, phone)[before:]]
        assert any(offer in line for line in answer) == (turn == 2), answer
    button = next(b for b in bodies(graph_api, phone) if offer in shown(b))
    assert button["interactive"]["action"]["buttons"][0]["reply"]["id"] == "/request_human"
