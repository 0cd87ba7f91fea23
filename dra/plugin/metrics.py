"""Prometheus metrics of the kubelet plugin.

Each plugin instance owns a :class:`CollectorRegistry`, so several instances (tests) never
collide in the process-global registry. Names follow Prometheus conventions with a
``dra_gpu_plugin_`` prefix; the set mirrors what operators of NVIDIA's driver look at:
requests, duration, in-flight, prepared devices and errors by type.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Prepare of one claim is expected in milliseconds; keep resolution there, with a tail up
# to the kubelet's 45 s call timeout.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 45)


class PluginMetrics:
    def __init__(self, driver: str, node: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = {"driver": driver, "node": node}
        self._labels = labels
        self.requests = Counter(
            "dra_gpu_plugin_requests",
            "gRPC requests handled, by operation and API version",
            ["driver", "operation", "api_version"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "dra_gpu_plugin_request_duration_seconds",
            "Time to answer a gRPC request",
            ["driver", "operation"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.inflight = Gauge(
            "dra_gpu_plugin_requests_inflight",
            "gRPC requests being handled",
            ["driver", "operation"],
            registry=self.registry,
        )
        self.claims = Counter(
            "dra_gpu_plugin_claims",
            "Claims handled, by operation and result (ok or error)",
            ["driver", "operation", "result"],
            registry=self.registry,
        )
        self.prepared_devices = Gauge(
            "dra_gpu_plugin_prepared_devices",
            "Devices currently prepared for claims on this node, by device type",
            ["driver", "node", "device_type"],
            registry=self.registry,
        )
        self.errors = Counter(
            "dra_gpu_plugin_errors",
            "Per-claim failures by operation and error type",
            ["driver", "operation", "error_type"],
            registry=self.registry,
        )
        self.device_taints = Gauge(
            "dra_gpu_plugin_device_taints",
            "Taints currently published on this node's devices, by key",
            ["driver", "node", "key"],
            registry=self.registry,
        )
        self.publishes = Counter(
            "dra_gpu_plugin_slice_publishes",
            "ResourceSlice publish attempts, by result",
            ["driver", "result"],
            registry=self.registry,
        )

    @contextmanager
    def track(self, operation: str, api_version: str) -> Iterator[None]:
        driver = self._labels["driver"]
        self.requests.labels(driver, operation, api_version).inc()
        gauge = self.inflight.labels(driver, operation)
        gauge.inc()
        start = time.perf_counter()
        try:
            yield
        finally:
            self.duration.labels(driver, operation).observe(time.perf_counter() - start)
            gauge.dec()

    def claim_result(self, operation: str, error_type: str) -> None:
        driver = self._labels["driver"]
        if error_type:
            self.claims.labels(driver, operation, "error").inc()
            self.errors.labels(driver, operation, error_type).inc()
        else:
            self.claims.labels(driver, operation, "ok").inc()

    def set_prepared_devices(self, counts: dict[str, int]) -> None:
        for device_type in ("gpu", "mig", "shared"):
            counts.setdefault(device_type, 0)
        for device_type, count in counts.items():
            self.prepared_devices.labels(
                self._labels["driver"], self._labels["node"], device_type
            ).set(count)

    def set_taints(self, counts: dict[str, int]) -> None:
        self.device_taints.clear()
        for key, count in counts.items():
            self.device_taints.labels(self._labels["driver"], self._labels["node"], key).set(count)
