"""Prometheus metrics of the slice publisher (optional).

The publisher registers its metrics only in a registry it is given (the kubelet plugin passes
its own :class:`prometheus_client.CollectorRegistry`), so that several publishers in one
process (tests, a simulator) never collide in the global registry, and a publisher without a
registry costs nothing.
"""

from __future__ import annotations

from typing import Any


class PublisherMetrics:
    """Writes by operation, retries by cause, and the published generation of each pool."""

    def __init__(self, registry: Any | None) -> None:
        self.enabled = registry is not None
        if registry is None:
            return
        from prometheus_client import Counter, Gauge

        self._writes = Counter("dra_gpu_slice_writes", "ResourceSlice writes sent to the API server, by operation",
                               ["driver", "operation"], registry=registry)
        self._retries = Counter("dra_gpu_slice_publish_retries",
                                "Publish attempts that failed and were retried, by cause", ["driver", "cause"],
                                registry=registry)
        self._generation = Gauge("dra_gpu_slice_pool_generation", "Generation of each published pool",
                                 ["driver", "pool"], registry=registry)

    def wrote(self, driver: str, operation: str) -> None:
        if self.enabled:
            self._writes.labels(driver, operation).inc()

    def retried(self, driver: str, cause: str) -> None:
        if self.enabled:
            self._retries.labels(driver, cause).inc()

    def published(self, driver: str, generations: dict[str, int | None]) -> None:
        if not self.enabled:
            return
        for pool, generation in generations.items():
            if generation is None:
                try:
                    self._generation.remove(driver, pool)
                except KeyError:
                    pass
            else:
                self._generation.labels(driver, pool).set(generation)
