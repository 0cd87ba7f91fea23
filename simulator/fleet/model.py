"""The fleet model: a list of :class:`NodeSpec`.

A node has CPU (millicores), host memory (MiB) and ``gpu_count`` GPUs of one ``model``
(the model name is the key of ``dra.gpu``'s GPU catalog, e.g. ``H100``, ``T4``, ``G2``).
``profile`` names the ``dra.gpu`` built-in node profile the node's inventory is built from
(None: built from the model and the GPU count). ``nvlink_domain`` groups nodes whose GPUs
share one NVLink fabric (a GB200 NVL72 rack); None means each node is its own domain.
``rdma_nics`` is the node's RDMA NICs (spread over its GPUs' PCIe roots,
:mod:`simulator.placement.nics`); 0 = none.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class NodeSpec:
    name: str
    cpu_milli: int
    memory_mib: int
    gpu_count: int
    model: str
    profile: str | None = None
    nvlink_domain: str | None = None
    rdma_nics: int = 0


@dataclass(slots=True)
class Fleet:
    name: str
    nodes: list[NodeSpec] = field(default_factory=list)

    @property
    def total_gpus(self) -> int:
        return sum(n.gpu_count for n in self.nodes)

    @property
    def has_nics(self) -> bool:
        return any(n.rdma_nics for n in self.nodes)

    def models(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for n in self.nodes:
            if n.gpu_count:
                out[n.model] = out.get(n.model, 0) + n.gpu_count
        return out
