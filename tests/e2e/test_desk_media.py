"""Files both ways between customers and atendentes, end to end.

Real Rasa (desk connector, event broker), real action server, real Redis,
the Graph API stand-in serving and taking media as Meta does. A WhatsApp
customer's photo, PDF and voice note reach the atendente (over /desk/ws and
in the transcript, with a signed link that serves the same bytes); an
atendente's image and document reach a WhatsApp customer (uploaded to Meta,
sent by media id), a widget customer (socket.io) and a WebSocket customer
(signed links). Every refusal of the upload route and of the links is checked.
"""
from __future__ import annotations

import asyncio
import io
import json
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import websockets
from PIL import Image

from testing.desk_client import DeskAgent, create_agent
from tests.e2e.test_websocket_channel import ws_url
from tests.e2e.test_whatsapp_channel import bodies, message, new_wa_id, say, shown, text
from testing.widget_client import WidgetClient

pytestmark = pytest.mark.e2e


def png(color=(200, 30, 30), size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def pdf() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (50, 50), (255, 255, 255)).save(out, "PDF")
    return out.getvalue()


@pytest.fixture(scope="module")
def agent(rasa_server, redis_settings, key_prefix):
    desk_agent = DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix)).online().connect()
    yield desk_agent
    desk_agent.close()


@pytest.fixture(scope="module")
def colleague(rasa_server, redis_settings, key_prefix):
    return DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix)).online()


def claimed_whatsapp(rasa_server, agent) -> tuple:
    wa_id = new_wa_id()
    say(rasa_server, text(wa_id, "quero falar com um atendente"))
    queued = agent.find_queued(f"wa:{wa_id}")
    agent.ok("POST", f"/conversations/{queued['id']}/claim")
    return wa_id, queued["id"]


def customer_media(agent, conversation_id: str, kind: str) -> dict:
    return agent.event("new_message", lambda d: d["conversation_id"] == conversation_id
                       and d["message"]["author"] == "customer"
                       and (d["message"].get("media") or {}).get("kind") == kind)["message"]


def fetch(server, path: str) -> requests.Response:
    return requests.get(f"{server.url}{path}", timeout=30)


def upload(agent, conversation_id: str, data: bytes, name: str, mime: str, caption=None, **kwargs):
    form = {"caption": caption} if caption is not None else {}
    return agent.api("POST", f"/conversations/{conversation_id}/attachments",
                     files={"file": (name, data, mime)}, data=form, **kwargs)


# -- customer -> atendente --------------------------------------------------------

def test_a_whatsapp_customers_photo_pdf_and_audio_reach_the_atendente(rasa_server, graph_api, agent):
    wa_id, conversation_id = claimed_whatsapp(rasa_server, agent)
    before = len(bodies(graph_api, wa_id))
    photo = png()
    say(rasa_server, message(wa_id, "image", {"id": graph_api.add_media(photo, "image/png"),
                                              "mime_type": "image/png", "caption": "a luz ta vermelha"}))
    seen = customer_media(agent, conversation_id, "image")
    assert seen["text"] == "a luz ta vermelha"
    assert seen["media"]["mime"] == "image/png" and seen["media"]["size"] == len(photo)
    served = fetch(rasa_server, seen["media"]["url"])
    assert served.status_code == 200 and served.content == photo
    assert served.headers["Content-Type"] == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served.headers["Content-Security-Policy"]

    document = pdf()
    say(rasa_server, message(wa_id, "document", {"id": graph_api.add_media(document, "application/pdf"),
                                                 "mime_type": "application/pdf", "filename": "comprovante junho.pdf"}))
    seen = customer_media(agent, conversation_id, "document")
    assert seen["text"] == "[documento: comprovante junho.pdf]"
    assert seen["media"]["filename"] == "comprovante junho.pdf"
    served = fetch(rasa_server, seen["media"]["url"])
    assert served.content == document and served.headers["Content-Disposition"].startswith("attachment;")

    # A file Meta no longer has: still in the conversation, marked, nothing lost.
    say(rasa_server, message(wa_id, "audio", {"id": "999000111", "mime_type": "audio/ogg; codecs=opus",
                                              "voice": True}))
    seen = customer_media(agent, conversation_id, "audio")
    assert seen["text"] == "[audio]" and "url" not in seen["media"] and seen["media"]["error"]

    transcript = agent.ok("GET", f"/conversations/{conversation_id}")["transcript"]
    kinds = [m["media"]["kind"] for m in transcript if m.get("media")]
    assert kinds == ["image", "document", "audio"]
    assert fetch(rasa_server, transcript[-3]["media"]["url"]).content == photo  # a fresh link each read
    time.sleep(0.5)
    assert not any("nao consigo" in shown(b) for b in bodies(graph_api, wa_id)[before:])  # no bot reply
    agent.ok("POST", f"/conversations/{conversation_id}/close", json={"resolution": "ok"})


def test_media_links_refuse_forged_expired_and_unknown_files(rasa_server, graph_api, agent):
    wa_id, conversation_id = claimed_whatsapp(rasa_server, agent)
    say(rasa_server, message(wa_id, "image", {"id": graph_api.add_media(png(), "image/png"),
                                              "mime_type": "image/png"}))
    url = customer_media(agent, conversation_id, "image")["media"]["url"]
    path, query = urlsplit(url).path, parse_qs(urlsplit(url).query)
    expires, signature = query["expires"][0], query["signature"][0]
    forged = "0" * len(signature)
    refusals = {
        f"{path}": 403,
        f"{path}?expires={expires}&signature={forged}": 403,
        f"{path}?expires={int(expires) + 3600}&signature={signature}": 403,  # a later expiry: not signed
        f"{path}?expires=soon&signature={signature}": 403,
        f"/media/{'A' * 22}?expires={expires}&signature={signature}": 403,  # another id: not signed
    }
    for link, status in refusals.items():
        answer = fetch(rasa_server, link)
        assert answer.status_code == status, link
        assert answer.json()["field"] in ("signature", "expires") and not answer.content.startswith(b"\x89PNG")
    assert fetch(rasa_server, url).status_code == 200
    agent.ok("POST", f"/conversations/{conversation_id}/close", json={"resolution": "ok"})


# -- atendente -> customer ----------------------------------------------------------

def test_an_atendente_sends_an_image_and_a_document_to_a_whatsapp_customer(rasa_server, graph_api, agent):
    wa_id, conversation_id = claimed_whatsapp(rasa_server, agent)
    photo = png((10, 120, 200))
    answer = upload(agent, conversation_id, photo, "roteador.png", "image/png", caption="Veja a luz PON aqui")
    assert answer.status_code == 201, answer.text
    sent = answer.json()["message"]
    assert sent["author"] == "agent" and sent["text"] == "Veja a luz PON aqui"
    assert sent["media"]["kind"] == "image" and fetch(rasa_server, sent["media"]["url"]).content == photo
    image = graph_api.wait_for(lambda: bodies(graph_api, wa_id, "image"))[-1]
    assert graph_api.uploaded(image["image"]["id"]) == {"data": photo, "mime": "image/png", "filename": "roteador.png"}
    assert image["image"]["caption"] == "Veja a luz PON aqui"

    document = pdf()
    answer = upload(agent, conversation_id, document, "Segunda via (junho).exe", "application/octet-stream")
    assert answer.status_code == 201, answer.text
    body = graph_api.wait_for(lambda: bodies(graph_api, wa_id, "document"))[-1]["document"]
    assert body["filename"] == "Segunda via (junho).pdf"  # named for what it is
    assert graph_api.uploaded(body["id"])["data"] == document
    transcript = agent.ok("GET", f"/conversations/{conversation_id}")["transcript"]
    assert [(m["author"], m["media"]["kind"]) for m in transcript if m.get("media")] == [
        ("agent", "image"), ("agent", "document")]
    agent.ok("POST", f"/conversations/{conversation_id}/close", json={"resolution": "ok"})


def test_the_upload_route_refuses_what_it_cannot_send(rasa_server, graph_api, agent, colleague):
    wa_id, conversation_id = claimed_whatsapp(rasa_server, agent)
    photo = png()
    uploads = len(graph_api.uploads)
    checks = [
        (upload(agent, conversation_id, b"<html><script>alert(1)</script></html>", "foto.png", "image/png"),
         415, "file"),
        (upload(agent, conversation_id, b"", "vazio.png", "image/png"), 422, "file"),
        (upload(agent, conversation_id, b"\xff\xd8\xff\xe0" + b"0" * (5 * 1024 * 1024), "grande.jpg", "image/jpeg"),
         413, "file"),
        (upload(agent, conversation_id, photo, "a.png", "image/png", caption="x" * 1025), 422, "caption"),
        (agent.api("POST", f"/conversations/{conversation_id}/attachments", json={"file": "abc"}), 415, "body"),
        (agent.api("POST", f"/conversations/{conversation_id}/attachments", data={"caption": "oi"},
                   files={"other": ("a.png", photo, "image/png")}), 422, "other"),
        (agent.api("POST", f"/conversations/{conversation_id}/attachments",
                   files=[("file", ("a.png", photo, "image/png")), ("file", ("b.png", photo, "image/png"))]),
         422, "file"),
        (upload(colleague, conversation_id, photo, "a.png", "image/png"), 403, None),
        (upload(agent, "nao-existe", photo, "a.png", "image/png"), 404, None),
    ]
    for answer, status, field in checks:
        assert answer.status_code == status, answer.text
        if field:
            assert answer.json()["field"] == field, answer.text
    anonymous = requests.post(f"{rasa_server.url}/desk/api/conversations/{conversation_id}/attachments",
                              files={"file": ("a.png", photo, "image/png")}, timeout=30)
    assert anonymous.status_code == 401
    assert not bodies(graph_api, wa_id, "image") and len(graph_api.uploads) == uploads  # nothing reached Meta
    agent.ok("POST", f"/conversations/{conversation_id}/close", json={"resolution": "ok"})
    assert upload(agent, conversation_id, photo, "a.png", "image/png").status_code == 409  # closed


def test_an_atendente_sends_files_to_a_widget_and_a_websocket_customer(rasa_server, agent):
    widget = WidgetClient(rasa_server.url).connect()
    try:
        session_id = widget.session()
        widget.say("quero falar com um atendente")
        queued = agent.find_queued(f"web:{session_id}")
        agent.ok("POST", f"/conversations/{queued['id']}/claim")
        photo = png((0, 160, 60))
        assert upload(agent, queued["id"], photo, "tela.png", "image/png", caption="Olha so").status_code == 201
        assert widget.next("bot_uttered")["text"] == "Olha so"
        image = widget.next("bot_uttered")["attachment"]
        assert image["type"] == "image" and fetch(rasa_server, image["payload"]["src"]).content == photo
        assert upload(agent, queued["id"], pdf(), "contrato.pdf", "application/pdf").status_code == 201
        link = widget.next("bot_uttered")["text"]
        assert link.startswith("Arquivo: [contrato.pdf](/media/")
        assert fetch(rasa_server, link[link.index("(") + 1:-1]).content.startswith(b"%PDF")
        agent.ok("POST", f"/conversations/{queued['id']}/close", json={"resolution": "ok"})
    finally:
        widget.close()

    session_id = f"wsm-{uuid.uuid4().hex[:10]}"
    url = ws_url(rasa_server, session_id)

    async def chat_frame(ws, check):
        while True:
            got = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if got["type"] == "chat" and check(got["data"]):
                return got["data"]

    async def scenario():
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"type": "chat", "data": {"message": "quero falar com um atendente"}}))
            await chat_frame(ws, lambda d: "fila" in d.get("text", ""))
            loop = asyncio.get_running_loop()
            queued = await loop.run_in_executor(None, agent.find_queued, f"web:{session_id}")
            await loop.run_in_executor(None, lambda: agent.ok("POST", f"/conversations/{queued['id']}/claim"))
            answer = await loop.run_in_executor(None, lambda: upload(
                agent, queued["id"], pdf(), "boleto.pdf", "application/pdf", caption="Seu boleto"))
            assert answer.status_code == 201, answer.text
            got = await chat_frame(ws, lambda d: "attachment" in d)
            assert got["text"] == "Seu boleto" and got["attachment"]["type"] == "file"
            payload = got["attachment"]["payload"]
            assert payload["name"] == "boleto.pdf" and payload["mime"] == "application/pdf"
            served = await loop.run_in_executor(None, fetch, rasa_server, payload["src"])
            assert served.content.startswith(b"%PDF")
            await loop.run_in_executor(None, lambda: agent.ok(
                "POST", f"/conversations/{queued['id']}/close", json={"resolution": "ok"}))

    asyncio.run(scenario())
