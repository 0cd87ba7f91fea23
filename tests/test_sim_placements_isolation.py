"""Isolation classes for every placement model, and the sharing config DRA claims carry.

Before issue 13 DRA share claims carried no MPS/time-slicing config and DRA pods that shared a
physical GPU were counted nowhere (the counter measured time-slicing only)."""

from __future__ import annotations

import pytest

from dra.plugin.config import GpuConfig, decode
from simulator.fleet.model import Fleet, NodeSpec
from simulator.placement import get_placement
from simulator.state import Counters, NodeState
from simulator.trace.model import Pod

H100 = "H100-SXM5-80GB"


def one_node(name: str, gpus: int = 1, **options: object):  # noqa: ANN201
    spec = NodeSpec("n", 64000, 1 << 20, gpus, H100)
    node = NodeState(0, spec, 0)
    placement = get_placement(name, **options)
    counters = Counters()
    placement.setup([node], Fleet("f", [spec]), counters)
    return placement, node, counters


def bind(placement, node: NodeState, pod: Pod):  # noqa: ANN001, ANN201
    d = placement.demand(pod)
    gpus = placement.eligible(node, d)
    assert len(gpus) >= d.count, pod
    b = placement.bind(node, pod, d, tuple(gpus[: d.count]), 0.0)
    assert b is not None, pod
    b.demand = d
    return b


def share(name: str, milli: int = 300, mem: int = 0) -> Pod:
    return Pod(name, 1000, 100, num_gpu=1, gpu_milli=milli, gpu_memory_mib=mem)


def iso(placement) -> dict:  # noqa: ANN001
    return {k.removeprefix("isolation_").replace("_", "-"): v for k, v in placement.accounting().items()
            if k.startswith("isolation_")}


def test_dra_share_claims_carry_the_mps_config_the_driver_decodes() -> None:
    placement, _, _ = one_node("dra")
    claim = placement.claim_dict(placement.demand(share("s", 250, 20 * 1024)))
    (entry,) = claim["spec"]["devices"]["config"]
    assert entry["requests"] == ["gpu"] and entry["opaque"]["driver"] == "gpu.nvidia.com"
    config = decode(entry["opaque"]["parameters"], "claim")
    assert isinstance(config, GpuConfig) and config.sharing is not None
    assert config.sharing.strategy == "MPS"
    assert config.sharing.mps_config.default_active_thread_percentage == 25
    assert str(config.sharing.mps_config.default_pinned_device_memory_limit) == "20Gi"
    whole = placement.claim_dict(placement.demand(Pod("w", 1000, 100, num_gpu=2, gpu_milli=1000)))
    assert "config" not in whole["spec"]["devices"]  # exclusive GPUs need no sharing config


def test_dra_mig_claim_puts_the_sharing_config_on_the_share_branch_only() -> None:
    placement, node, _ = one_node("dra")
    pod = Pod("m", 1000, 100, num_gpu=1, gpu_milli=143, gpu_memory_mib=10240, mig_profile="1g.10gb")
    claim = placement.claim_dict(placement.demand(pod))
    assert claim["spec"]["devices"]["config"][0]["requests"] == ["gpu/share"]
    bind(placement, node, pod)  # the allocator accepts the claim with its config


def test_dra_time_slicing_config_limits_nothing() -> None:
    placement, node, counters = one_node("dra", sharing="time-slicing")
    params = placement.claim_dict(placement.demand(share("s")))["spec"]["devices"]["config"][0]["opaque"]["parameters"]
    assert decode(params, "claim").sharing.strategy == "TimeSlicing"
    bind(placement, node, share("a"))
    bind(placement, node, share("b"))
    assert counters.isolation_violations == {"a", "b"}
    assert iso(placement) == {"guaranteed": 0, "shared-mps": 0, "shared-unlimited": 2}


def test_dra_counts_pods_that_really_share_a_gpu() -> None:
    placement, node, counters = one_node("dra", gpus=2)
    a = bind(placement, node, share("a", 600))
    bind(placement, node, share("b", 600))  # does not fit beside a: the other GPU, alone
    assert iso(placement) == {"guaranteed": 2, "shared-mps": 0, "shared-unlimited": 0}
    bind(placement, node, share("c", 300))  # shares with a or b
    summary = iso(placement)
    assert summary == {"guaranteed": 1, "shared-mps": 2, "shared-unlimited": 0}
    assert counters.isolation_violations == set()  # MPS limits each tenant
    placement.release(node, a)  # leaving does not undo what happened
    assert iso(placement) == summary


@pytest.mark.parametrize("name, expected", [
    ("device-plugin", {"guaranteed": 2, "shared-mps": 0, "shared-unlimited": 0}),
    ("time-slicing", {"guaranteed": 0, "shared-mps": 0, "shared-unlimited": 2}),
    ("mig-mixed", {"guaranteed": 2, "shared-mps": 0, "shared-unlimited": 0}),
    ("dra", {"guaranteed": 0, "shared-mps": 2, "shared-unlimited": 0}),
    ("dra-whole", {"guaranteed": 2, "shared-mps": 0, "shared-unlimited": 0}),
])
def test_every_placement_splits_isolation_the_same_way(name: str, expected: dict) -> None:
    placement, node, _ = one_node(name, gpus=2, mig_fraction=1.0)
    bind(placement, node, share("a", 100))
    bind(placement, node, share("b", 100))
    assert iso(placement) == expected
