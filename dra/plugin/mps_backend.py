"""A device backend whose MPS control daemons run as their own pods (``--mps-daemon pod``).

Everything but MPS goes to the wrapped backend (NVML on a node, the built-in one without a
GPU); ``start_mps``/``stop_mps``/``remove_stale_mps`` go to :class:`dra.plugin.mps_pods.MpsDaemonPods`.
Keeping the choice in one wrapper leaves both backends as they are and lets the pod path be
tested against the stand-in API server with the built-in backend.
"""

from __future__ import annotations

import logging
from typing import Any

from dra.plugin.backend import BackendError, MpsDaemon, MpsSettings
from dra.plugin.mps_pods import MpsDaemonPods

log = logging.getLogger(__name__)


class PodMpsBackend:
    def __init__(self, inner: Any, pods: MpsDaemonPods) -> None:
        self.inner = inner
        self.pods = pods

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def start_mps(self, daemon_id: str, gpu_uuids: list[str], settings: MpsSettings) -> MpsDaemon:
        return self.pods.start(daemon_id, gpu_uuids, settings)

    def stop_mps(self, daemon_id: str) -> None:
        self.pods.stop(daemon_id)

    def remove_stale_mps(self, keep: set[str]) -> list[str]:
        try:
            return self.pods.remove_stale(keep)
        except BackendError as err:
            # The API server may be away at start: stale daemons are only wasted, never wrong
            # (their claims are gone); the next start removes them.
            log.warning("cannot remove stale MPS daemon deployments now", extra={"error": str(err)})
            return []
