"""HTTP endpoint for probes and metrics: ``/healthz`` (liveness), ``/readyz``, ``/metrics``.

Liveness means "the DRA socket answers": each probe sends an empty NodePrepareResources over
the real socket (as NVIDIA's driver does), so a wedged gRPC server fails it. Readiness
additionally requires startup recovery to be done, the slices published, and the kubelet to
have accepted the registration (when it has not called us yet we are not ready).
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)


class ProbeServer:
    def __init__(
        self,
        address: str,
        port: int,
        registry: CollectorRegistry,
        live: Callable[[], tuple[bool, str]],
        ready: Callable[[], tuple[bool, str]],
    ) -> None:
        handler = _make_handler(registry, live, ready)
        self._httpd = ThreadingHTTPServer((address, port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="dra-http", daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _make_handler(registry, live, ready):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server API
            if self.path == "/metrics":
                self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif self.path in ("/healthz", "/livez"):
                self._probe(live)
            elif self.path == "/readyz":
                self._probe(ready)
            else:
                self._send(404, b"not found\n", "text/plain")

        def _probe(self, check) -> None:
            ok, detail = check()
            body = json.dumps({"ok": ok, "detail": detail}).encode() + b"\n"
            self._send(200 if ok else 503, body, "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - probes are noisy
            log.debug("http " + format % args)

    return Handler
