"""Placement model (a): NVIDIA's device plugin with integer ``nvidia.com/gpu``.

A pod asks for ``nvidia.com/gpu: N``; a fraction of a GPU cannot be expressed, so it takes a
whole GPU (the rest of that GPU is wasted). Model and GPU-memory constraints are expressed
the device-plugin way: node labels from GPU feature discovery (``nvidia.com/gpu.product``,
``nvidia.com/gpu.memory``) and required node affinity (``In`` for an allowed-model list,
``Gt`` for a memory floor). That works because a node's GPUs are all one model.

``device-plugin-noaffinity``: the same pods written as many are in practice -- just
``nvidia.com/gpu: N``, no node affinity -- so a pod may land on a model it does not allow or
a GPU with too little memory; each such placement is counted as *wrong-model*.
"""

from __future__ import annotations

from simulator.placement.base import Placement, whole_gpus_needed
from simulator.state import Demand, NodeState
from simulator.trace.model import Pod


class IntegerDevicePlugin(Placement):
    name = "device-plugin"
    description = "device plugin, integer nvidia.com/gpu (a fraction takes a whole GPU)"

    def __init__(self, node_affinity: bool = True) -> None:
        super().__init__()
        self.node_affinity = node_affinity
        if not node_affinity:
            self.name = "device-plugin-noaffinity"

    def demand(self, pod: Pod) -> Demand:
        n = whole_gpus_needed(pod)
        models, gpu_mem = self.constraints(pod)
        return Demand(
            cpu=pod.cpu_milli, mem=pod.memory_mib, count=n, milli=1000 if n else 0,
            models=models, gpu_mem=gpu_mem, nvlink=pod.nvlink,
            requested_milli=pod.gpu_milli if n else 0,
        )

    def eligible(self, node: NodeState, d: Demand) -> list[int]:
        if d.gpu_mem and node.gpu_mem and node.gpu_mem < d.gpu_mem:
            return []
        return [i for i, g in enumerate(node.gpu_free) if g == 1000]
