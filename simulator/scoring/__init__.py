"""Node scoring policies, by name (``dra sim replay --policy NAME``)."""

from __future__ import annotations

from simulator.errors import UnknownNameError
from simulator.scoring.base import Policy, ScoringContext
from simulator.scoring.fgd import FGD
from simulator.scoring.kube import KubeDefault, MostAllocated
from simulator.scoring.paper import BestFit, DotProd, GpuClustering, GpuPacking, RandomPolicy

POLICIES: dict[str, type[Policy]] = {
    cls.name: cls
    for cls in (KubeDefault, MostAllocated, RandomPolicy, DotProd, GpuClustering, GpuPacking, BestFit, FGD)
}
# The FGD paper's six, in its order (sim-anchors.md 1.2).
PAPER_POLICIES = ["random", "dotprod", "gpu-clustering", "gpu-packing", "bestfit", "fgd"]
ALIASES = {"gpuclustering": "gpu-clustering", "clustering": "gpu-clustering", "gpupacking": "gpu-packing",
           "packing": "gpu-packing", "best-fit": "bestfit", "kube": "kube-default", "default": "kube-default",
           "least-allocated": "kube-default", "mostallocated": "most-allocated"}


def get_policy(name: str) -> Policy:
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in POLICIES:
        raise UnknownNameError("policy", name, POLICIES)
    return POLICIES[key]()


__all__ = ["POLICIES", "PAPER_POLICIES", "Policy", "ScoringContext", "get_policy"]
