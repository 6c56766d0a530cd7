"""Voice notes on WhatsApp: time to the first reply, and the webhook's ack meanwhile.

Issue 18's benchmark. A real 20-second pt-BR voice note (espeak-ng ->
Ogg/Opus) is served by the Graph API stand-in; the transcription stand-in
answers after a realistic ``--latency`` (1.5 s). The script starts the action
server and ``rasa run`` (Redis db 14) itself and prints:
  - baseline: the ack of text deliveries (``--rate`` per second) alone;
  - the same text deliveries while ``--voice`` customers each send a voice
    note (one a second): the text acks then, and for each voice note the time
    from the webhook POST to the bot's first reply at the Graph API (download,
    length check, transcription, NLU, the answer).

Usage: .venv/bin/python bench/media.py MODEL.tar.gz [--voice 20] [--texts 120] [--rate 4] [--latency 1.5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.whatsapp_ack import ack, envelope, paced, whatsapp_stack  # noqa: E402
from channels.whatsapp.signature import sign  # noqa: E402
from testing.fakes import graph_api as graph_fake  # noqa: E402
from testing.fakes.graph_api import FakeGraphApi  # noqa: E402
from testing.fakes.openai_server import FakeOpenAI  # noqa: E402
from testing.latency import percentile  # noqa: E402
from testing.speech import voice_note  # noqa: E402

SPOKEN = ("oi boa tarde, minha internet ta muito lenta desde ontem a noite, o video trava toda hora, "
          "ja reiniciei o roteador duas vezes e nao resolveu, o wifi ta fraco no quarto, "
          "queria saber se tem alguma manutencao na minha regiao ou se precisa mandar um tecnico aqui em casa")
HEARD = ("oi boa tarde, minha internet ta muito lenta desde ontem a noite, o video trava toda hora, "
         "ja reiniciei o roteador duas vezes e nao resolveu")


def summary(values) -> str:
    return (f"p50 {statistics.median(values):.1f}  p95 {percentile(values, 95):.1f}  "
            f"p99 {percentile(values, 99):.1f}  max {max(values):.1f}")


def voice_notes(base: str, graph: FakeGraphApi, media_id: str, count: int) -> list:
    """``count`` customers send the voice note, one a second; each one's ms to the first reply."""
    session, sent = requests.Session(), []
    for n in range(count):
        wa_id = f"5521977{n:06d}"
        body = envelope(wa_id, {"type": "audio", "audio": {"id": media_id, "mime_type": "audio/ogg; codecs=opus",
                                                           "voice": True}})
        started = time.monotonic()
        answer = session.post(f"{base}/webhooks/whatsapp/webhook", data=body, timeout=30, headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": sign(graph_fake.APP_SECRET, body)})
        assert answer.status_code == 200, answer.text
        sent.append((wa_id, started))
        time.sleep(max(0.0, started + 1.0 - time.monotonic()))

    def first_reply(wa_id: str) -> float:
        return min(r.at for r in graph.sent(to=wa_id) if r.type != "read")

    graph.wait_for(lambda: all(any(r.type != "read" for r in graph.sent(to=w)) for w, _ in sent), timeout=300)
    return [(first_reply(wa_id) - started) * 1000 for wa_id, started in sent]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--voice", type=int, default=20, help="voice notes (one customer each, 1 per second)")
    parser.add_argument("--texts", type=int, default=120, help="text deliveries per phase")
    parser.add_argument("--rate", type=float, default=4.0, help="text deliveries per second")
    parser.add_argument("--latency", type=float, default=1.5, help="seconds the transcription stand-in takes")
    args = parser.parse_args()

    audio = voice_note(SPOKEN)
    graph, stt = FakeGraphApi(graph_fake.ACCESS_TOKEN).start(), FakeOpenAI().start()
    stt.hear(audio, HEARD)
    stt.set_audio("answer", latency=args.latency)
    media_id = graph.add_media(audio, "audio/ogg")
    try:
        with whatsapp_stack(args.model, graph, TRANSCRIPTION_BASE_URL=stt.url,
                            TRANSCRIPTION_API_KEY=stt.api_key) as base:
            post = ack(base, graph_fake.APP_SECRET)
            paced(args.rate, 20, post, threading.Event())  # warm-up: model and connections
            alone = paced(args.rate, args.texts, post, threading.Event())
            replies: list = []
            voices = threading.Thread(target=lambda: replies.extend(voice_notes(base, graph, media_id, args.voice)))
            voices.start()
            during = paced(args.rate, args.texts, post, threading.Event())
            voices.join()
            transcribed = len(stt.transcriptions)
    finally:
        graph.stop()
        stt.stop()
    from bot.media.transcription import audio_seconds

    print(f"voice note: {audio_seconds(audio):.1f} s of Ogg/Opus, {len(audio) / 1024:.0f} KB; transcription "
          f"stand-in latency {args.latency:g} s; {transcribed} transcriptions; {os.cpu_count()} cores")
    print(f"text webhook ack ms, alone ({args.texts} at {args.rate:g}/s):        {summary(alone)}")
    print(f"text webhook ack ms, during {args.voice} voice notes:             {summary(during)}")
    print(f"voice note: webhook to the bot's first reply, ms:        {summary(replies)}")


if __name__ == "__main__":
    main()
