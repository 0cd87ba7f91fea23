"""Which upstream allocator variant each Kubernetes version runs, and ``Allocator.for_version``.

The table is what ``NewAllocator`` of k8s.io/dynamic-resource-allocation v0.34.4..v0.37.2
picks for the features kube-scheduler of that version passes (its ``AllocatorFeatures``);
the differential test checks the same against the real library (the oracle reports the
variant it ran), this test pins it without Go.
"""

from __future__ import annotations

import pytest

from dra.allocator import Allocator
from dra.allocator.variants import Behaviour, NoVariant, choose_variant, features_for_gates
from dra.allocator.features import Features
from dra.versions import KubernetesVersion


@pytest.mark.parametrize("minor, defaults, all_on", [
    ("1.34", "experimental", "experimental"),  # DeviceStatus (DRAResourceClaimDeviceStatus, beta) alone needs it
    ("1.35", "incubating", "experimental"),
    ("1.36", "incubating", "incubating"),      # 1.36 passes ListTypeAttributes to CEL only
    ("1.37", "incubating", "experimental"),
])
def test_variant_per_version(minor: str, defaults: str, all_on: str) -> None:
    assert Allocator.for_version(KubernetesVersion.of(minor), [], []).behaviour.variant == defaults
    assert Allocator.for_version(KubernetesVersion.all_gates_on(minor), [], []).behaviour.variant == all_on


def test_gates_map_as_the_scheduler_maps_them() -> None:
    v = KubernetesVersion.of("1.37", {"DRADeviceBindingConditions": False})
    f = features_for_gates(v.minor, v.gates)
    assert f.device_binding_and_status is False and f.consumable_capacity is True
    # DRAFractionalCapacityRange is on by default in 1.37.2 (as its kube-apiserver reports), and the
    # stable variant does not support it: all three off leave the four features stable supports.
    assert Allocator.for_version(
        KubernetesVersion.of("1.37", {"DRAConsumableCapacity": False, "DRADeviceBindingConditions": False}), [], []
    ).behaviour.variant == "incubating"
    assert Allocator.for_version(
        KubernetesVersion.of("1.37", {"DRAConsumableCapacity": False, "DRADeviceBindingConditions": False,
                                      "DRAFractionalCapacityRange": False}), [], []
    ).behaviour.variant == "stable"


def test_behaviour_per_version_and_variant() -> None:
    assert not Behaviour("1.35", "incubating").ordered
    assert Behaviour("1.36", "incubating").ordered and Behaviour("1.36", "incubating").start_location
    assert not Behaviour("1.37", "stable").ordered
    assert Behaviour("1.34", "experimental").counters_key == "slice"
    assert Behaviour("1.35", "stable").counters_key == "slice"
    assert Behaviour("1.35", "incubating").counters_key == "pool-name"
    assert Behaviour("1.36", "stable").counters_key == "pool-name"
    assert Behaviour("1.37", "incubating").counters_key == "driver-pool"


def test_no_variant_for_an_impossible_feature_set() -> None:
    with pytest.raises(NoVariant):
        choose_variant("1.35", Features(list_type_attributes=True))


def test_old_constructor_keeps_working_with_1_35_semantics() -> None:
    a = Allocator(Features.kubernetes_1_35_defaults(), [], [])
    assert (a.behaviour.minor, a.behaviour.variant) == ("1.35", "incubating")
