"""Isolation of placed GPU pods, counted the same way for every placement model.

Every GPU pod that was placed falls into exactly one class, decided over its whole life:

``guaranteed``
    Its GPU memory and compute are its own: whole GPUs used exclusively, or a MIG slice
    (hardware partition), or a shared-capable GPU it never actually shared with anyone.
``shared-mps``
    It shared a physical GPU with at least one other pod at some moment, under MPS limits the
    driver applies from the claim's sharing config (an active-thread percentage equal to its
    compute share and, when the pod states its GPU memory, a pinned-memory limit): a bounded
    share, but not a hardware partition (a fault in one MPS client can take the others down).
``shared-unlimited``
    It shared a physical GPU with another pod with no limit at all (time-slicing: device-plugin
    replicas, or a DRA claim whose config asks for ``TimeSlicing``): any tenant can take all
    memory and all compute of the GPU.

The classes come from what happened on the GPUs, not from what was requested: two pods that
could share but never overlapped are both ``guaranteed``. The old counter
(``isolation_violations``) is the ``shared-unlimited`` set, so its meaning is unchanged for
time-slicing, and it is no longer 0 by construction for DRA when claims ask for time-slicing.
"""

from __future__ import annotations

from simulator.state import Counters

GUARANTEED = "guaranteed"
SHARED_MPS = "shared-mps"
SHARED_UNLIMITED = "shared-unlimited"
CLASSES = (GUARANTEED, SHARED_MPS, SHARED_UNLIMITED)

# How a pod holds a GPU: exclusive use / a MIG slice (never shared), or shared under a mode.
EXCLUSIVE = "exclusive"
MIG_SLICE = "mig-slice"  # a hardware MIG partition: guaranteed, and counted on its own
MPS = "mps"
TIME_SLICING = "time-slicing"


class Isolation:
    """Tenants per physical GPU and the class each placed GPU pod ends in."""

    def __init__(self, counters: Counters) -> None:
        self.counters = counters
        self.tenants: dict[tuple[int, int], dict[str, str]] = {}  # (node, gpu) -> pod -> mode
        self.placed: set[str] = set()  # GPU pods placed at least once
        self.mps: set[str] = set()
        self.mig: set[str] = set()  # pods that got a MIG partition

    def bind(self, node: int, gpus: tuple[int, ...], pod: str, mode: str) -> None:
        self.placed.add(pod)
        if mode == MIG_SLICE:
            self.mig.add(pod)
            return
        if mode == EXCLUSIVE:
            return
        for g in gpus:
            here = self.tenants.setdefault((node, g), {})
            here[pod] = mode
            if len(here) > 1:
                for name, m in here.items():
                    self._shared(name, m)

    def _shared(self, pod: str, mode: str) -> None:
        if mode == TIME_SLICING:
            self.counters.isolation_violations.add(pod)
        else:
            self.mps.add(pod)

    def release(self, node: int, gpus: tuple[int, ...], pod: str) -> None:
        for g in gpus:
            here = self.tenants.get((node, g))
            if here is not None:
                here.pop(pod, None)
                if not here:
                    del self.tenants[(node, g)]

    def summary(self) -> dict[str, int]:
        """Pods per class (a pod that was both MPS-limited and unlimited counts as unlimited)."""
        unlimited = self.counters.isolation_violations
        mps = len(self.mps - unlimited)
        return {
            GUARANTEED: len(self.placed) - mps - len(unlimited & self.placed),
            SHARED_MPS: mps,
            SHARED_UNLIMITED: len(unlimited & self.placed),
        }
