"""HTTP plumbing of the stand-in API server: a threading server and its request handler.

Each connection gets a thread (``ThreadingHTTPServer``), so slow or faulted requests do not
hold up others. The handler speaks HTTP/1.1 with keep-alive (what the client's urllib3 pool
expects), hands every request to :meth:`FakeApiServer.serve`, logs it, and either answers
with JSON or, for an injected reset, closes the socket with an RST.
"""

from __future__ import annotations

import json
import socket
import struct
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from dra.testing.apiserver_faults import RequestRecord, now

if TYPE_CHECKING:
    from dra.testing.apiserver import FakeApiServer


class QuietServer(ThreadingHTTPServer):
    """Clients that time out or are reset on purpose are normal here: no tracebacks on stderr."""

    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's urllib3 pool expects
    server_ref: FakeApiServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm
        # and the client's delayed ACK add ~40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _serve(self) -> None:
        self.server_ref._enter()
        try:
            self._serve_one()
        finally:
            self.server_ref._leave()

    def _serve_one(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fake = self.server_ref
        outcome, code, extra, payload, fault = fake.serve(self.command, self.path, self.headers, body)
        split = urlsplit(self.path)
        fault_note = fault.describe() if fault is not None else None
        try:
            parsed_body = json.loads(body) if body else None
        except ValueError:
            parsed_body = body.decode("utf-8", "replace")
        # Logged before answering, so a client that saw the answer also finds it in the log.
        fake.log.append(RequestRecord(self.command, split.path, dict(parse_qsl(split.query)), parsed_body,
                                      code if outcome == "ok" else 0, fault_note, now()))
        if outcome == "reset":
            self._reset()
            return
        data = json.dumps(payload, separators=(",", ":")).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client gave up (its timeout) before we answered

    def _reset(self) -> None:
        try:
            # SO_LINGER with a zero timeout makes close() send RST: the client sees a reset.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve
