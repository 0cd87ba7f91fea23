"""The simulator's RDMA NIC claims against the upstream allocator library (needs Go).

The DRA placement model writes claims for DLRM-2025 instances (``simulator.placement.dra_claims``)
and places them with ``dra.allocator`` on the slices it publishes for a node: a DGX H100's GPUs
plus the NICs of a DraNet-style network driver, or a CPU node's NICs alone. Here the same
classes, slices and claims, with NIC shares already taken, go to upstream's allocator of 1.36
and 1.37 and to ours: the answers must agree (``dra.testing.oracle_diff``). So do the two claims
of a pod that keeps ``nvidia.com/gpu`` under the migration model (``dra-extended``): the
scheduler's extended-resource claim and the pod's own claim for its NIC share.
"""

from __future__ import annotations

from typing import Any

import pytest

from dra.testing import oracle as oracle_mod
from dra.testing.oracle_diff import differences, solve_ours
from simulator.engine import demand_for
from simulator.fleet.builtin import builtin_fleet
from simulator.fleet.model import Fleet, NodeSpec
from simulator.placement import get_placement
from simulator.placement.dra import device_classes
from simulator.placement.nics import NIC_DRIVER, nic_device_class
from simulator.state import Counters, NodeState
from simulator.trace.model import Pod

pytestmark = pytest.mark.skipif(oracle_mod.skip_reason() is not None, reason=oracle_mod.skip_reason() or "")

FEATURES = {"AdminAccess": True, "PrioritizedList": True, "PartitionableDevices": True, "DeviceTaints": True,
            "ConsumableCapacity": True}


def _node(spec: NodeSpec, model: str = "dra") -> tuple[Any, NodeState]:
    node = NodeState(0, spec, 0)
    placement = get_placement(model)
    placement.setup([node], Fleet("f", [spec]), Counters())
    placement.allocator_for(node.extra)  # builds the node's slices
    return placement, node


def _problem(placement: Any, node: NodeState, pod: Pod, taken: dict[str, int]) -> dict[str, Any]:
    """One claim for ``pod`` on ``node``, the NICs in ``taken`` already holding that much rdma."""
    return _claims_problem(node, [placement.claim_dict(demand_for(placement, pod), name=pod.name)], taken)


def _claims_problem(node: NodeState, claims: list[dict[str, Any]], taken: dict[str, int]) -> dict[str, Any]:
    pool = node.extra.pool
    shares = [{"driver": NIC_DRIVER, "pool": pool, "device": nic,
               "shareID": f"{k + 1:08d}-1111-1111-1111-111111111111"} for k, nic in enumerate(taken)]
    return {
        "features": FEATURES,
        "classes": [c.to_dict() for c in [*device_classes(), nic_device_class()]],
        "slices": [s.to_dict() for s in node.extra.rep.slices],
        "claims": claims,
        "nodeName": node.name,
        "allocated": {"devices": [], "sharedDeviceIDs": shares, "consumedCapacity": [
            {"device": {"driver": NIC_DRIVER, "pool": pool, "device": nic}, "consumedCapacity": {"rdma": str(milli)}}
            for nic, milli in taken.items()]},
    }


def _problems() -> list[dict[str, Any]]:
    problems = []
    cpu = NodeSpec("cpu-0", 192000, 1 << 20, 0, "L4", rdma_nics=2)
    placement, node = _node(cpu)
    for rdma in (10, 250, 600, 1000):  # a CN instance's share: fits a NIC, the other, or none
        for taken in ({}, {"nic-0": 600}, {"nic-0": 600, "nic-1": 500}, {"nic-0": 1000, "nic-1": 1000}):
            problems.append(_problem(placement, node, Pod(f"cn-{rdma}", 1000, 1024, rdma_milli=rdma), taken))
    dgx = builtin_fleet("dgx-h100-32").nodes[0]
    placement, node = _node(dgx)
    for rdma in (100, 600):  # an HN instance: a GPU and a NIC share under its PCIe root
        for taken in ({}, {"nic-0": 1000, "nic-1": 1000, "nic-2": 1000}, {f"nic-{k}": 500 for k in range(8)}):
            pod = Pod(f"hn-{rdma}", 1000, 1024, num_gpu=1, gpu_milli=1000, rdma_milli=rdma)
            problems.append(_problem(placement, node, pod, taken))
            problems.append(_problem(placement, node, Pod(f"cn-{rdma}", 1000, 1024, rdma_milli=rdma), taken))
    migration, node = _node(dgx, "dra-extended")
    for rdma in (100, 600):  # a pod keeping nvidia.com/gpu: 2, and its NIC share in a claim of its own
        pod = Pod(f"ext-{rdma}", 1000, 1024, num_gpu=2, gpu_milli=1000, rdma_milli=rdma)
        claims = [c.to_dict() for c in migration.claims_for(demand_for(migration, pod), None)]
        assert len(claims) == 2
        for taken in ({}, {f"nic-{k}": 1000 for k in range(7)}, {f"nic-{k}": 500 for k in range(8)}):
            problems.append(_claims_problem(node, claims, taken))
    return problems


@pytest.mark.parametrize("minor", ["1.36", "1.37"])
def test_nic_claims_agree_with_upstream(minor: str) -> None:
    problems = _problems()
    with oracle_mod.UpstreamAllocator(minor, progress=True) as upstream:
        answers = upstream.solve_many(problems)
    found = {"allocated": 0, "unschedulable": 0}
    for problem, theirs in zip(problems, answers):
        ours = solve_ours(problem, minor)
        assert not differences(problem, ours, theirs, minor), (problem["claims"][0]["metadata"]["name"],
                                                                problem["allocated"]["consumedCapacity"], ours, theirs)
        found["unschedulable" if ours["unschedulable"] else "allocated"] += 1
    assert found["allocated"] > 0 and found["unschedulable"] > 0  # both outcomes were exercised
