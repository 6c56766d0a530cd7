"""WhatsApp voice notes, end to end: real pt-BR speech (espeak-ng -> Ogg/Opus),
served by the Graph API stand-in as Meta serves media, transcribed by an
OpenAI-compatible stand-in that checks the multipart request, and the words
taken as if typed (NLU, the CPF form, the step-up code), with the "Ouvi:"
echo before a CPF or code is used. Every way a voice note can fail gets one
polite message and no crash; the desk gets the audio with its transcript.
"""
from __future__ import annotations

import re
import time

import pytest
import requests

from bot.isp.demo_seed import generated_customers
from tests.conftest import CODE_SENT, METRICS_AUTH, step_up_codes
from testing.desk_client import DeskAgent, create_agent
from testing.speech import silence, voice_note
from tests.e2e.test_whatsapp_channel import (bodies, message, new_wa_id, say, shown, text, user_events,
                                             wait_saved, wait_text)

pytestmark = pytest.mark.e2e

OPUS = "audio/ogg; codecs=opus"
NOT_HEARD = "Nao consegui ouvir seu audio"


def send_voice(rasa_server, graph_api, wa_id: str, audio: bytes, mime: str = OPUS) -> str:
    incoming = message(wa_id, "audio", {"id": graph_api.add_media(audio, mime), "mime_type": mime, "voice": True})
    say(rasa_server, incoming)
    return incoming["id"]


def spoken(transcription_api, words: str, heard_as: str) -> bytes:
    audio = voice_note(words)
    transcription_api.hear(audio, heard_as)
    return audio


def digits_spoken(digits: str) -> str:
    return " ".join(digits)


def test_a_spoken_cpf_and_code_get_the_invoice(rasa_server, graph_api, transcription_api):
    name, cpf, phone, _, _ = generated_customers()[20]
    wa_id = new_wa_id()  # not the customer's registered number: the step-up code applies
    say(rasa_server, text(wa_id, "quero a segunda via do boleto"))
    wait_text(graph_api, wa_id, "CPF ou CNPJ")

    formatted = f"{cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}-{cpf[9:]}"
    audio = spoken(transcription_api, f"meu cpf e {digits_spoken(cpf)}", f"Meu CPF é {formatted}.")
    before_codes = len(step_up_codes(graph_api, phone))
    send_voice(rasa_server, graph_api, wa_id, audio)
    echo = wait_text(graph_api, wa_id, "Ouvi:")
    assert shown(echo) == f'Ouvi: "Meu CPF é {formatted}."'
    wait_text(graph_api, wa_id, CODE_SENT)
    request = transcription_api.transcriptions[-1]
    assert (request["model"], request["language"], request["mime"]) == ("whisper-1", "pt", "audio/ogg")
    assert request["size"] == len(audio) and request["filename"].endswith(".ogg")
    wait_saved(rasa_server, graph_api, wa_id, 2)
    last = user_events(rasa_server, wa_id)[-1]
    assert last["text"] == f"Meu CPF é {formatted}." and last["metadata"]["transcribed"] is True

    code = graph_api.wait_for(lambda: step_up_codes(graph_api, phone)[before_codes:])[-1]
    send_voice(rasa_server, graph_api, wa_id, spoken(transcription_api, f"o codigo e {digits_spoken(code)}",
                                                     f"o código é {code}"))
    wait_text(graph_api, wa_id, f"Obrigado, {name.split()[0]}!")
    wait_text(graph_api, wa_id, "Linha digitavel do boleto:")
    assert sum(shown(b).startswith("Ouvi:") for b in bodies(graph_api, wa_id)) == 2


def test_a_voice_note_is_taken_as_typed_words(rasa_server, graph_api, transcription_api):
    wa_id = new_wa_id()
    audio = spoken(transcription_api, "minha internet ta muito lenta desde ontem",
                   "minha internet ta muito lenta desde ontem")
    send_voice(rasa_server, graph_api, wa_id, audio)
    wait_text(graph_api, wa_id, "CPF ou CNPJ")  # the slow-connection check starts by finding the contract
    assert not any(shown(b).startswith("Ouvi:") for b in bodies(graph_api, wa_id))  # nothing sensitive: no echo
    wait_saved(rasa_server, graph_api, wa_id, 1)
    assert user_events(rasa_server, wa_id)[-1]["parse_data"]["intent"]["name"] == "report_slow_connection"


def transcriptions_total(rasa_server) -> dict:
    page = requests.get(f"{rasa_server.url}/metrics", headers=METRICS_AUTH, timeout=30).text
    return {outcome: float(value) for outcome, value in
            re.findall(r'^isp_transcriptions_total\{outcome="(\w+)"\} ([\d.]+)$', page, re.M)}


@pytest.mark.parametrize("case", ["too_long", "service_error", "timeout", "empty", "oversize", "not_audio",
                                  "gone"])
def test_a_voice_note_that_cannot_be_heard_gets_one_polite_message(rasa_server, graph_api, transcription_api,
                                                                    case):
    wa_id = new_wa_id()
    before = transcriptions_total(rasa_server)
    audio = voice_note("alo alo")
    transcription_api.hear(audio, "" if case == "empty" else "alo alo")
    if case == "service_error":
        transcription_api.set_audio("error", status=500)
    elif case == "timeout":
        transcription_api.delay = 5  # over TRANSCRIPTION_TIMEOUT_SECONDS=3 of the test servers
        transcription_api.set_audio("timeout", latency=0, status=500)
    try:
        if case == "too_long":
            send_voice(rasa_server, graph_api, wa_id, silence(25))  # TRANSCRIPTION_MAX_SECONDS=20
        elif case == "oversize":
            send_voice(rasa_server, graph_api, wa_id, b"OggS" + b"\0" * (16 * 1024 * 1024 + 1))
        elif case == "not_audio":
            send_voice(rasa_server, graph_api, wa_id, b"\x89PNG\r\n\x1a\n" + b"\0" * 64, mime="audio/ogg")
        elif case == "gone":
            say(rasa_server, message(wa_id, "audio", {"id": "424242", "mime_type": OPUS, "voice": True}))
        else:
            send_voice(rasa_server, graph_api, wa_id, audio)
        expected = "passou de 20 segundos" if case == "too_long" else NOT_HEARD
        wait_text(graph_api, wa_id, expected, timeout=30)
    finally:
        transcription_api.set_audio("answer")
        transcription_api.delay = 30.0
    time.sleep(1)
    assert len(bodies(graph_api, wa_id)) == 1 and user_events(rasa_server, wa_id) == []  # one reply, no turn
    outcome = {"too_long": "too_long", "service_error": "error", "timeout": "timeout", "empty": "empty"}.get(case)
    if outcome:
        after = transcriptions_total(rasa_server)
        assert after.get(outcome, 0) == before.get(outcome, 0) + 1, after


@pytest.fixture(scope="module")
def agent(rasa_server, redis_settings, key_prefix):
    desk_agent = DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix)).online().connect()
    yield desk_agent
    desk_agent.close()


def test_the_atendente_plays_a_voice_note_and_reads_its_transcript(rasa_server, graph_api, transcription_api,
                                                                     agent):
    wa_id = new_wa_id()
    say(rasa_server, text(wa_id, "quero falar com um atendente"))
    queued = agent.find_queued(f"wa:{wa_id}")
    agent.ok("POST", f"/conversations/{queued['id']}/claim")
    audio = spoken(transcription_api, "o tecnico nao apareceu hoje", "o técnico não apareceu hoje")
    send_voice(rasa_server, graph_api, wa_id, audio)
    seen = agent.customer_message(queued["id"], "o técnico não apareceu hoje")["message"]
    assert seen["media"]["kind"] == "audio" and seen["media"]["transcript"] == "o técnico não apareceu hoje"
    assert requests.get(f"{rasa_server.url}{seen['media']['url']}", timeout=30).content == audio

    transcription_api.set_audio("error")  # the service fails: the atendente still gets the audio
    try:
        other = voice_note("alo")
        send_voice(rasa_server, graph_api, wa_id, other)
        failed = agent.event("new_message", lambda d: d["conversation_id"] == queued["id"]
                             and (d["message"].get("media") or {}).get("size") == len(other))["message"]
    finally:
        transcription_api.set_audio("answer")
    assert failed["text"] == "[audio]" and "transcript" not in failed["media"] and failed["media"]["url"]
    assert not any(NOT_HEARD in shown(b) for b in bodies(graph_api, wa_id))  # the atendente answers, not the bot
    agent.ok("POST", f"/conversations/{queued['id']}/close", json={"resolution": "ok"})
