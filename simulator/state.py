"""Mutable cluster state shared by placement models, scoring policies and the engine.

Every node keeps, besides CPU and memory, one number per GPU: ``gpu_free`` in milli-GPU
(1000 = untouched). That is the view the FGD paper's policies and fragmentation measure are
defined on, and every placement model keeps it up to date in its own currency (a whole GPU
for an integer device plugin, a replica for time-slicing, a MIG slice, or the consumed
``compute`` capacity of a DRA shared GPU). Model-specific detail (MIG slices, DRA allocated
devices) lives in ``NodeState.extra``, owned by the placement model.

:class:`Demand` is what one pod asks of the scheduler *in a given placement model*; the
same trace pod becomes different demands under different models (a 0.3-GPU pod is 1000
milli to an integer device plugin and 300 to DRA).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simulator.fleet.model import NodeSpec


@dataclass(frozen=True, slots=True)
class Demand:
    cpu: int
    mem: int
    count: int  # GPUs (or slices) wanted; 0 = CPU-only
    milli: int  # charged milli per GPU in this model
    models: tuple[str, ...] = ()
    gpu_mem: int = 0  # MiB each GPU/slice must offer
    mig: str | None = None  # MIG profile (static-MIG and DRA)
    nvlink: bool = False
    requested_milli: int = 0  # the pod's true per-GPU need (for waste accounting)
    mem_request: int = 0  # GPU memory (MiB) reserved on a shared GPU (DRA consumable capacity)
    app: str = ""  # with max_per_node: pod anti-affinity, at most max_per_node pods of app per node
    max_per_node: int = 0
    rdma_milli: int = 0  # share of an RDMA NIC (1000 = one NIC); placed where the fleet has NICs
    clique: str = ""  # a gang member under DRA: the NVLink clique (cliqueId) all its claims must match

    @property
    def shape(self) -> tuple:
        return (self.cpu, self.mem, self.count, self.milli, self.models, self.gpu_mem, self.mig, self.nvlink,
                self.mem_request, self.app, self.max_per_node, self.clique, self.rdma_milli)

    @property
    def gpu_shape(self) -> tuple:
        """The part of :attr:`shape` a placement model's GPU filter reads (no CPU, memory or
        anti-affinity): demands equal here pass or fail the GPU side of a node alike."""
        return (self.count, self.milli, self.models, self.gpu_mem, self.mig, self.nvlink, self.mem_request,
                self.rdma_milli)

    @property
    def is_share(self) -> bool:
        return self.count == 1 and 0 < self.milli < 1000

    @property
    def total_milli(self) -> int:
        return self.count * self.milli


@dataclass(slots=True)
class Binding:
    """Where a pod went: node index, GPU indices, charged milli per GPU, model detail.

    ``charged`` is the GPU milli the placement model took out of the cluster for this pod
    (defaults to ``len(gpus) * milli``); the engine sums it into the allocation ratio.
    """

    pod: Any
    node: int
    gpus: tuple[int, ...]
    milli: int
    time: float
    detail: Any = None
    charged: int = -1
    demand: Any = None

    def __post_init__(self) -> None:
        if self.charged < 0:
            self.charged = len(self.gpus) * self.milli


class NodeState:
    __slots__ = (
        "idx", "spec", "name", "model", "cpu_cap", "mem_cap", "cpu_free", "mem_free",
        "gpu_free", "gpu_mem", "tags", "extra", "apps",
    )

    def __init__(self, idx: int, spec: NodeSpec, gpu_mem_mib: int = 0) -> None:
        self.idx = idx
        self.spec = spec
        self.name = spec.name
        self.model = spec.model
        self.cpu_cap = spec.cpu_milli
        self.mem_cap = spec.memory_mib
        self.cpu_free = spec.cpu_milli
        self.mem_free = spec.memory_mib
        self.gpu_free: list[int] = [1000] * spec.gpu_count
        self.gpu_mem = gpu_mem_mib  # memory of one GPU (MiB), 0 when unknown
        self.tags: dict[str, int] = {}  # GPU-affinity tags of the pods on the node (GpuClustering)
        self.extra: Any = None
        self.apps: dict[str, int] = {}  # pods per app, for apps with an anti-affinity limit

    @property
    def gpu_count(self) -> int:
        return len(self.gpu_free)

    def gpu_free_total(self) -> int:
        return sum(self.gpu_free)

    def __repr__(self) -> str:
        return f"NodeState({self.name}, cpu {self.cpu_free}/{self.cpu_cap}, gpu {self.gpu_free})"


def affinity_tag(d: Demand) -> str | None:
    """The FGD artifact's GPU-affinity tag of a pod: share-gpu, N-gpu, or None for CPU pods."""
    if d.count == 0 or d.milli == 0:
        return None
    if d.is_share:
        return "share-gpu"
    return f"{d.count}-gpu"


@dataclass(slots=True)
class Counters:
    """Per-run counters the engine and placement models add to."""

    isolation_violations: set[str] = field(default_factory=set)
    wrong_model: int = 0
    topology_violations: int = 0
    index_disagreements: int = 0
    allocator_calls: int = 0
