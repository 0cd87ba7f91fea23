"""The probe/metrics server: bound address, bounded threads, idle connections closed."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request

from prometheus_client import CollectorRegistry

from dra.plugin import httpd
from dra.plugin.httpd import ProbeServer


def _server(monkeypatch, idle=0.5):
    monkeypatch.setattr(httpd, "IDLE_TIMEOUT_S", idle)
    server = ProbeServer("127.0.0.1", 0, CollectorRegistry(), lambda: (True, "ok"), lambda: (False, "starting"))
    server.start()
    return server


def test_idle_connections_hold_no_more_than_the_pool(monkeypatch):
    """300 idle connections used to hold 300 threads; now at most the pool, and they are closed."""
    server = _server(monkeypatch)
    try:
        before = threading.active_count()
        idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(100)]
        time.sleep(0.3)
        assert threading.active_count() - before <= httpd.MAX_WORKERS
        for s in idle:
            s.settimeout(5)
        # every idle connection ends: refused at once (beyond the queue) or after the idle timeout
        assert all(s.recv(1) == b"" for s in idle)
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=5) as r:
            assert r.status == 200
        assert server._httpd.refused >= 100 - httpd.MAX_WORKERS - httpd.MAX_QUEUED
        for s in idle:
            s.close()
    finally:
        server.stop()


def test_binds_the_given_address_only(monkeypatch):
    server = _server(monkeypatch)
    try:
        assert server._httpd.server_address[0] == "127.0.0.1"
    finally:
        server.stop()
