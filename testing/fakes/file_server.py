"""A local web server holding files a chat client attaches by URL.

:meth:`FileServer.add` places a file at a path (its type, an HTTP status, a
delay, or no ``Content-Length`` so only counting the bytes can stop a large
one); :meth:`FileServer.redirect` answers a path with a 302. Every request
is recorded (:attr:`requests`), so a test can show a refused URL was never
fetched.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional


@dataclass
class Served:
    data: bytes
    content_type: str = "application/octet-stream"
    status: int = 200
    delay: float = 0.0
    declare_length: bool = True
    location: Optional[str] = None


class FileServer:
    def __init__(self) -> None:
        self.files: Dict[str, Served] = {}
        self.requests: List[str] = []
        self._server: Optional[ThreadingHTTPServer] = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"http://{self.host}/{path.lstrip('/')}"

    def add(self, path: str, data: bytes, content_type: str = "application/octet-stream", **options) -> str:
        self.files["/" + path.lstrip("/")] = Served(data, content_type, **options)
        return self.url(path)

    def redirect(self, path: str, location: str) -> str:
        self.files["/" + path.lstrip("/")] = Served(b"", status=302, location=location)
        return self.url(path)

    def start(self) -> "FileServer":
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # no Content-Length: the body ends when the socket closes

            def log_message(self, *_):  # quiet
                pass

            def do_GET(self):
                owner.requests.append(self.path)
                served = owner.files.get(self.path.split("?", 1)[0])
                if served is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                time.sleep(served.delay)
                self.send_response(served.status)
                if served.location:
                    self.send_header("Location", served.location)
                self.send_header("Content-Type", served.content_type)
                if served.declare_length:
                    self.send_header("Content-Length", str(len(served.data)))
                self.end_headers()
                try:
                    self.wfile.write(served.data)
                except (BrokenPipeError, ConnectionResetError):  # the client stopped reading (too large)
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
