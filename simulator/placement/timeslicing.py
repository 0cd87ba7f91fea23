"""Placement model (b): the device plugin with time-slicing, ``replicas`` per GPU.

Each GPU is advertised as ``replicas`` units of ``nvidia.com/gpu``; a pod asking for N gets N
replicas (on distinct GPUs, as the plugin prefers). Any pod -- fractional or whole-GPU --
takes one replica per GPU, i.e. 1/replicas of a GPU as far as the scheduler knows. Nothing
is isolated: no memory limit, no compute share. Every pod that shares a physical GPU with
another pod at some point of its life is ``shared-unlimited`` (and an *isolation violation*);
see :mod:`simulator.placement.isolation`.
"""

from __future__ import annotations

from simulator.errors import UnknownNameError
from simulator.placement.base import Placement, whole_gpus_needed
from simulator.placement.isolation import TIME_SLICING
from simulator.state import Binding, Demand, NodeState
from simulator.trace.model import Pod

VALID_REPLICAS = (2, 4, 5, 8, 10)


class TimeSlicingDevicePlugin(Placement):
    name = "time-slicing"
    description = "device plugin with time-slicing (N replicas per GPU, no isolation)"

    def __init__(self, replicas: int = 4) -> None:
        super().__init__()
        if replicas not in VALID_REPLICAS:
            raise UnknownNameError("time-slicing replica count", str(replicas), [str(r) for r in VALID_REPLICAS])
        self.replicas = replicas
        self.share = 1000 // replicas

    def demand(self, pod: Pod) -> Demand:
        n = whole_gpus_needed(pod)
        return Demand(
            cpu=pod.cpu_milli, mem=pod.memory_mib, count=n, milli=self.share if n else 0,
            models=pod.gpu_models, gpu_mem=pod.gpu_memory_mib, nvlink=pod.nvlink,
            requested_milli=pod.gpu_milli if n else 0,
        )

    def eligible(self, node: NodeState, d: Demand) -> list[int]:
        if d.gpu_mem and node.gpu_mem and node.gpu_mem < d.gpu_mem:
            return []
        return [i for i, g in enumerate(node.gpu_free) if g >= d.milli]

    def bind(self, node: NodeState, pod: Pod, d: Demand, gpus: tuple[int, ...], now: float) -> Binding | None:
        for i in gpus:
            node.gpu_free[i] -= d.milli
        if gpus:
            self.isolation.bind(node.idx, gpus, pod.name, TIME_SLICING)
        self.take_nic(node, pod, d, gpus)
        return Binding(pod, node.idx, gpus, d.milli, now)

    def release(self, node: NodeState, binding: Binding) -> None:
        for i in binding.gpus:
            node.gpu_free[i] += binding.milli
        self.isolation.release(node.idx, binding.gpus, binding.pod.name)
        self.give_nic(binding)
