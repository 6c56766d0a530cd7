"""Files attached to REST and WebSocket chat messages, end to end.

The same paths as a WhatsApp file: a voice note is heard (the transcription
stand-in), a boleto photo is read by its barcode, a photo goes to the vision
stand-in, and while an atendente has the conversation the file reaches the
desk. URLs are served by a local file server (``MEDIA_URL_TEST_HOSTS`` names
it, the only loopback host the servers may fetch from); every refusal names
its field and starts no turn.
"""
from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import uuid

import pytest
import requests
import websockets
from PIL import Image

from bot.boleto import barcode_digits
from testing.desk_client import DeskAgent, create_agent
from testing.speech import voice_note
from testing.widget_client import WidgetClient
from tests.e2e.test_desk_media import pdf, png
from tests.e2e.test_boleto_photos import boleto_photo, open_invoices_of_someone_with_two, seeded
from tests.e2e.test_rest_channel import AUTH, texts
from tests.e2e.test_websocket_channel import frames_until, ws_url

pytestmark = pytest.mark.e2e

MB = 1024 * 1024


def new_session() -> str:
    return f"att-{uuid.uuid4().hex[:12]}"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def post(server, session_id: str, attachment, **extra) -> requests.Response:
    return requests.post(f"{server.url}/api/v1/chat", headers=AUTH, timeout=60,
                         json={"session_id": session_id, "attachment": attachment, **extra})


def user_events(server, sender: str) -> list:
    return [e for e in server.tracker(sender)["events"] if e["event"] == "user"]


# -- the same paths as on WhatsApp ---------------------------------------------------------------

def test_a_voice_note_sent_as_base64_is_taken_as_typed_words(rasa_server, transcription_api):
    audio = voice_note("a minha net caiu de novo hoje cedo")
    transcription_api.hear(audio, "a minha net caiu de novo hoje cedo")
    session = new_session()
    answer = post(rasa_server, session, {"data": b64(audio), "filename": "gravacao.ogg"})
    assert answer.status_code == 200, answer.text
    assert "CPF ou CNPJ" in texts(answer.json())  # the no-connection check starts by finding the contract
    request = transcription_api.transcriptions[-1]
    assert (request["mime"], request["size"], request["language"]) == ("audio/ogg", len(audio), "pt")
    said = user_events(rasa_server, f"api:{session}")[-1]
    assert said["text"] == "a minha net caiu de novo hoje cedo" and said["metadata"]["transcribed"] is True
    assert said["parse_data"]["intent"]["name"] == "report_no_connection"


def test_a_boleto_photo_by_url_is_read_by_its_barcode(rasa_server, graph_api, demo_db, file_server):
    seeded(rasa_server, graph_api)
    _, lines = open_invoices_of_someone_with_two(demo_db)
    url = file_server.add(f"fotos/{uuid.uuid4().hex}/boleto.jpg", boleto_photo(lines[-1]), "image/jpeg")
    session = new_session()
    answer = post(rasa_server, session, {"url": url})
    assert answer.status_code == 200, answer.text
    assert "CPF ou CNPJ" in texts(answer.json())  # whose boleto it is comes after identification
    said = user_events(rasa_server, f"api:{session}")[-1]
    assert said["parse_data"]["intent"]["name"] == "request_invoice"
    assert said["parse_data"]["entities"][0]["value"] == barcode_digits(lines[-1])


@pytest.fixture(scope="module")
def agent(rasa_server, redis_settings, key_prefix):
    return DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix))  # reads only: never online


def test_a_photo_over_the_websocket_goes_to_a_person_and_the_next_file_to_the_desk(
        rasa_server, transcription_api, file_server, agent):
    photo = png(color=(20, 120, 220))  # its own bytes: the vision stand-in answers by the file's hash
    transcription_api.see(photo, {"kind": "other", "description": "roteador com a luz LOS vermelha"})
    session = new_session()
    document = pdf()
    url = file_server.add(f"docs/{uuid.uuid4().hex}/contrato.pdf", document, "application/pdf")

    async def scenario():
        async with websockets.connect(ws_url(rasa_server, session)) as ws:
            await frames_until(ws, "connection")
            await ws.send(json.dumps({"type": "chat", "id": uuid.uuid4().hex, "data": {
                "message": "ta assim aqui", "attachment": {"data": b64(photo), "filename": "luz.png"}}}))
            first = await frames_until(ws, "typing", lambda data: data["active"] is False)
            await ws.send(json.dumps({"type": "chat", "id": uuid.uuid4().hex, "data": {
                "attachment": {"url": url}}}))
            second = await frames_until(ws, "typing", lambda data: data["active"] is False)
            return first, second

    first, second = asyncio.run(scenario())
    said = "\n".join(f["data"].get("text", "") for f in first if f["type"] == "chat")
    assert "atendente" in said.lower()  # the LLM is off: a person looks at the photo
    assert not [f for f in second if f["type"] == "chat"]  # for the atendente: the bot stays quiet
    events = user_events(rasa_server, f"web:{session}")
    assert events[0]["parse_data"]["intent"]["name"] == "request_human"
    assert events[0]["metadata"]["image"] == {"description": "roteador com a luz LOS vermelha",
                                              "caption": "ta assim aqui"}  # small talk: not a request
    assert events[-1]["text"] == "[documento: contrato.pdf]"

    queued = agent.find_queued(f"web:{session}")
    transcript = agent.ok("GET", f"/conversations/{queued['id']}")["transcript"]
    files = [m["media"] for m in transcript if m.get("media")]
    assert [f["kind"] for f in files] == ["image", "document"]
    assert files[0]["description"] == "roteador com a luz LOS vermelha"
    served = requests.get(f"{rasa_server.url}{files[1]['url']}", timeout=30)
    assert served.status_code == 200 and served.content == document


def test_a_photo_whose_caption_asks_for_something_takes_that_path_with_the_photo(rasa_server, transcription_api):
    photo = png(color=(240, 240, 240), size=(80, 60))
    transcription_api.see(photo, {"kind": "other", "description": "teste de velocidade: 3 Mbps de download"})
    session = new_session()
    answer = post(rasa_server, session, {"data": b64(photo)}, message="minha internet ta uma carroca, olha o teste")
    assert answer.status_code == 200, answer.text
    assert "CPF ou CNPJ" in texts(answer.json())  # the slow-connection check, not a person or the LLM
    said = user_events(rasa_server, f"api:{session}")[-1]
    assert said["text"] == "minha internet ta uma carroca, olha o teste"
    assert said["parse_data"]["intent"]["name"] == "report_slow_connection"
    assert said["metadata"]["image"]["description"] == "teste de velocidade: 3 Mbps de download"
    assert said["metadata"]["media"]["kind"] == "image"  # kept: the desk shows it if a person takes over


def test_a_file_the_bot_does_not_read_gets_a_reply_and_no_turn(rasa_server):
    session = new_session()
    video = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64
    answer = post(rasa_server, session, {"data": b64(video)}, message="olha isso")
    assert answer.status_code == 200, answer.text
    assert "videos" in texts(answer.json())
    assert user_events(rasa_server, f"api:{session}") == []


# -- refusals: the field named, nothing fetched that should not be, no turn ----------------------

@pytest.mark.parametrize("attachment, field, words", [
    ({"url": "http://example.com/foto.jpg"}, "attachment.url", "https://"),
    ({"url": "https://127.0.0.1/foto.jpg"}, "attachment.url", "private, loopback"),
    ({"url": "https://10.0.0.8/foto.jpg"}, "attachment.url", "private, loopback"),
    ({"url": "https://169.254.169.254/latest/meta-data/"}, "attachment.url", "private, loopback"),
    ({"url": "https://[::1]/foto.jpg"}, "attachment.url", "private, loopback"),
    ({"url": "https://localhost/foto.jpg"}, "attachment.url", "private, loopback"),
    ({"url": "https://fulano:senha@example.com/foto.jpg"}, "attachment.url", "user or password"),
    ({"url": "https://example.com:8443/foto.jpg"}, "attachment.url", "443"),
    ({"url": "ftp://example.com/foto.jpg"}, "attachment.url", "https://"),
    ({"url": 12}, "attachment.url", "string"),
    ({"url": "https://xn--/foto.jpg"}, "attachment.url", "not a URL"),
    ({"url": "https://fotos..provedor.com.br/foto.jpg"}, "attachment.url", "not a URL"),
    ({"url": "https://example.com/a.jpg", "data": "aGVsbG8="}, "attachment", "exactly one"),
    ({}, "attachment", "exactly one"),
    ("https://example.com/a.jpg", "attachment", "object"),
    ({"data": "nao e base64!"}, "attachment.data", "base64"),
    ({"data": "aGVsbG8=", "mime": "image/png"}, "attachment.mime", "unknown field"),
    ({"data": "aGVsbG8=", "filename": 5}, "attachment.filename", "string"),
])
def test_a_bad_attachment_is_422_naming_the_field(rasa_server, attachment, field, words):
    session = new_session()
    answer = post(rasa_server, session, attachment)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field and words in answer.json()["detail"]
    assert user_events(rasa_server, f"api:{session}") == []


def test_metadata_cannot_pretend_to_be_what_the_server_saw(rasa_server):
    for key in ("media", "transcribed", "image"):
        answer = requests.post(f"{rasa_server.url}/api/v1/chat", headers=AUTH, timeout=30, json={
            "session_id": new_session(), "message": "oi", "metadata": {key: True}})
        assert answer.status_code == 422 and answer.json()["field"] == f"metadata.{key}", answer.text


def test_urls_that_redirect_fail_or_stall_are_refused_and_not_followed(rasa_server, file_server):
    target = f"inner/{uuid.uuid4().hex}.png"
    file_server.add(target, png(), "image/png")
    cases = [
        (file_server.redirect(f"r/{uuid.uuid4().hex}", file_server.url(target)), "redirects are not followed"),
        (file_server.url(f"missing/{uuid.uuid4().hex}.jpg"), "HTTP 404"),
        (file_server.add(f"slow/{uuid.uuid4().hex}.png", png(), "image/png", delay=3.0), "within 2s"),
    ]
    for url, words in cases:
        answer = post(rasa_server, new_session(), {"url": url})
        assert answer.status_code == 422 and answer.json()["field"] == "attachment.url", answer.text
        assert words in answer.json()["detail"]
    assert f"/{target}" not in file_server.requests


def test_files_too_large_are_413_and_types_we_do_not_take_415(rasa_server, file_server):
    big = b"\xff\xd8\xff\xe0" + b"\x00" * (16 * MB)
    for declare_length in (True, False):  # told up front, or only counted while reading
        url = file_server.add(f"big/{uuid.uuid4().hex}.jpg", big, "image/jpeg", declare_length=declare_length)
        answer = post(rasa_server, new_session(), {"url": url})
        assert answer.status_code == 413 and answer.json()["field"] == "attachment.url", answer.text

    photo = Image.frombytes("RGB", (1400, 1400), os.urandom(1400 * 1400 * 3))  # noise: PNG cannot shrink it
    out = io.BytesIO()
    photo.save(out, "PNG")  # an image over the 5 MB a photo may have
    assert out.tell() > 5 * MB
    answer = post(rasa_server, new_session(), {"data": b64(out.getvalue())})
    assert answer.status_code == 413 and answer.json()["field"] == "attachment.data", answer.text

    url = file_server.add(f"txt/{uuid.uuid4().hex}.jpg", b"isto nao e uma foto, e texto puro\n" * 20, "image/jpeg")
    answer = post(rasa_server, new_session(), {"url": url})
    assert answer.status_code == 415 and answer.json()["field"] == "attachment.url", answer.text

    padding = {"data": b64(png()), "filename": "x.png"}
    answer = post(rasa_server, new_session(), padding, metadata={"nota": "x" * 70_000})
    assert answer.status_code == 413 and "besides attachment.data" in answer.json()["detail"], answer.text


def test_a_bad_attachment_over_the_websocket_gets_an_error_frame_and_the_socket_stays(rasa_server):
    session = new_session()

    async def scenario():
        async with websockets.connect(ws_url(rasa_server, session)) as ws:
            await frames_until(ws, "connection")
            await ws.send(json.dumps({"type": "chat", "id": uuid.uuid4().hex, "data": {
                "attachment": {"url": "https://192.168.0.1/roteador.png"}}}))
            refused = (await frames_until(ws, "error"))[-1]["data"]
            await ws.send(json.dumps({"type": "ping", "id": "p1"}))
            await frames_until(ws, "pong")
            return refused

    refused = asyncio.run(scenario())
    assert refused["code"] == "invalid_message" and refused["field"] == "data.attachment.url"
    assert user_events(rasa_server, f"web:{session}") == []


def test_a_socketio_client_may_attach_a_file_too(rasa_server, transcription_api, file_server):
    audio = voice_note("quais sao os planos que voces oferecem")
    transcription_api.hear(audio, "quais sao os planos que voces oferecem")
    url = file_server.add(f"audio/{uuid.uuid4().hex}.ogg", audio, "audio/ogg")
    widget = WidgetClient(rasa_server.url).connect()
    try:
        widget.session(new_session())
        replies = widget.say("", attachment={"url": url})
        assert "Mega" in "\n".join(r.get("text", "") for r in replies)
        widget.sio.emit("user_uttered", {"message": "", "session_id": widget.session_id,
                                         "attachment": {"url": "https://172.16.0.9/a.ogg"}})
        refused = widget.next("error", timeout=10)
    finally:
        widget.close()
    assert refused["field"] == "attachment.url" and "private" in refused["detail"]
    said = user_events(rasa_server, f"web:{widget.session_id}")
    assert [e["text"] for e in said] == ["quais sao os planos que voces oferecem"]
