"""A local OpenAI-compatible chat API (``POST /v1/chat/completions``) recording every request.

Answers in OpenAI's wire format: a ``chat.completion`` object, or with
``"stream": true`` Server-Sent Events of ``chat.completion.chunk`` objects
ending with ``data: [DONE]`` (a usage chunk first when
``stream_options.include_usage`` is set). Modes, switched by the test:
``answer`` (default; ``reply`` is the text, or a function of the request),
``error`` (HTTP ``status`` with an OpenAI error body), ``timeout`` (sleeps
``delay`` seconds before answering), ``slow_stream`` (chunks ``delay`` apart).
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Union

API_KEY = "sk-test-fake-openai-key"

Reply = Union[str, Callable[[Dict[str, Any]], str]]


class FakeOpenAI:
    def __init__(self, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.requests: List[Dict[str, Any]] = []
        self.mode = "answer"
        self.reply: Reply = "Sim! O roteador que a gente instala e dual band."
        self.status = 500
        self.delay = 30.0
        self.usage = (120, 25)
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

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def prompts(self) -> List[str]:
        """All message contents of every recorded request, joined per request."""
        with self._lock:
            return ["\n".join(m.get("content") or "" for m in r["body"].get("messages", []))
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
                if mode == "error":
                    return self._json(status, {"error": {"message": "The server had an error",
                                                          "type": "server_error", "code": None}})
                if mode == "timeout":
                    time.sleep(delay)
                text = reply(body) if callable(reply) else reply
                if body.get("stream"):
                    return self._stream(body, text, delay if mode == "slow_stream" else 0)
                prompt, completion = fake.usage
                self._json(200, {
                    "id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion",
                    "created": int(time.time()), "model": body.get("model", ""),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                              "total_tokens": prompt + completion},
                })

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
