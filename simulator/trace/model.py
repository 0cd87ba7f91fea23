"""The trace model: one :class:`Pod` per workload instance, in arrival order.

A pod asks for CPU, host memory and GPUs. The GPU part is deliberately richer than what a
device plugin can express, because that gap is what the simulator measures:

- ``num_gpu`` GPUs, each with ``gpu_milli`` thousandths of a GPU (1000 = whole GPU; a value
  below 1000 only with ``num_gpu == 1``, as in the Alibaba openb trace);
- ``gpu_models``: the GPU models the pod may run on (empty = any);
- ``gpu_memory_mib``: the GPU memory each of its GPUs (or its slice) must offer;
- ``mig_profile``: a MIG profile the pod wants (e.g. ``1g.10gb``), or None;
- ``nvlink``: a multi-GPU pod whose GPUs must share one NVLink domain;
- ``gang``: the job (Workload / PodGroup) the pod belongs to, or "" -- the pods of one gang are
  placed all or none (Kubernetes 1.37 gang scheduling: the group waits until every member has
  arrived, then binds only if all fit);
- ``clique``: a gang whose pods must all land in one multi-node NVLink domain (the nodes of one
  GB200 NVL72 rack, what NVIDIA's ComputeDomains ask for); a node outside any rack is a clique
  of its own;
- ``app`` and ``max_per_node``: at most ``max_per_node`` pods of one app on a node (required
  pod anti-affinity with a limit, the DLRM trace's ``max_instance_per_node``);
- ``rdma_milli``: the share of an RDMA NIC the pod asks for (1000 = one NIC).

Times are seconds from the trace origin; ``duration`` None means "runs until the end".
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Pod:
    name: str
    cpu_milli: int
    memory_mib: int
    num_gpu: int = 0
    gpu_milli: int = 0
    gpu_models: tuple[str, ...] = ()
    gpu_memory_mib: int = 0
    mig_profile: str | None = None
    nvlink: bool = False
    arrival: float = 0.0
    duration: float | None = None
    kind: str = ""
    qos: str = ""
    gang: str = ""
    clique: bool = False
    app: str = ""
    max_per_node: int = 0  # > 0: at most this many pods of ``app`` on one node (anti-affinity)
    rdma_milli: int = 0  # share of one RDMA NIC the pod asks for (1000 = a whole NIC)

    @property
    def is_gpu(self) -> bool:
        return self.num_gpu > 0 and self.gpu_milli > 0

    @property
    def is_share(self) -> bool:
        """A fractional-GPU pod (the only kind that can share a GPU with others)."""
        return self.num_gpu == 1 and 0 < self.gpu_milli < 1000

    @property
    def total_gpu_milli(self) -> int:
        return self.num_gpu * self.gpu_milli if self.gpu_milli > 0 else 0

    def clone(self, name: str) -> "Pod":
        return Pod(
            name, self.cpu_milli, self.memory_mib, self.num_gpu, self.gpu_milli, self.gpu_models,
            self.gpu_memory_mib, self.mig_profile, self.nvlink, self.arrival, self.duration,
            self.kind, self.qos, f"{self.gang}-{name}" if self.gang else "", self.clique,
            self.app, self.max_per_node, self.rdma_milli,
        )


@dataclass(slots=True)
class Trace:
    """A named list of pods (the order is the trace's order)."""

    name: str
    pods: list[Pod] = field(default_factory=list)

    @property
    def total_gpu_milli(self) -> int:
        return sum(p.total_gpu_milli for p in self.pods)

    def __len__(self) -> int:
        return len(self.pods)

    def gang_sizes(self) -> dict[str, int]:
        """Members per gang (a clone of a gang member is a gang of one of its own)."""
        sizes: dict[str, int] = {}
        for p in self.pods:
            if p.gang:
                sizes[p.gang] = sizes.get(p.gang, 0) + 1
        return sizes
