"""HTTP endpoint for probes and metrics: ``/healthz`` (liveness), ``/readyz``, ``/metrics``.

Liveness means "the DRA socket answers": each probe sends an empty NodePrepareResources over
the real socket (as NVIDIA's driver does), so a wedged gRPC server fails it. Readiness
additionally requires startup recovery to be done, the slices published, and the kubelet to
have accepted the registration (when it has not called us yet we are not ready).

The server binds ``--http-address`` (default ``127.0.0.1``; the DaemonSet passes the pod IP),
serves at most ``MAX_WORKERS`` connections at once from a fixed thread pool, queues at most
``MAX_QUEUED`` more and closes any beyond that at once, and closes a connection that sends
nothing for ``IDLE_TIMEOUT_S`` (each connection is one request, HTTP/1.0). Before, it was a
thread per connection with no timeout: 300 idle connections held 300 threads.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

MAX_WORKERS = 4
MAX_QUEUED = 16
IDLE_TIMEOUT_S = 5.0


class BoundedHTTPServer(HTTPServer):
    """HTTPServer whose requests run on a capped thread pool with a capped queue."""

    daemon_threads = True
    request_queue_size = 128  # the kernel's accept backlog: refuse in user space, not by SYN drops

    def __init__(self, address, handler, max_workers: int = MAX_WORKERS, max_queued: int = MAX_QUEUED):
        super().__init__(address, handler)
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix="dra-http")
        self._slots = threading.BoundedSemaphore(max_workers + max_queued)
        self.refused = 0

    def process_request(self, request, client_address) -> None:
        if not self._slots.acquire(blocking=False):
            self.refused += 1
            self.shutdown_request(request)  # saturated: close at once rather than pile up
            return
        self._pool.submit(self._work, request, client_address)

    def _work(self, request, client_address) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001 - one bad connection must not end the server
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self._slots.release()

    def server_close(self) -> None:
        super().server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)


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
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        server_class = type("ProbeHTTPServer", (BoundedHTTPServer,), {"address_family": family})
        self._httpd = server_class((address, port), handler)
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
        timeout = IDLE_TIMEOUT_S  # socket timeout: an idle or slow client is dropped

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
