"""Every profile x mode x Kubernetes version builds slices that pass the Kubernetes schema,
our API validation, a parse/dump round trip, and the pool-level rules the API does not check
(unique names in the pool, counter references, per-slice limits)."""

from __future__ import annotations

import pytest

from dra.api import ResourceSlice
from dra.api.validation import validate
from dra.gpu import builtin
from dra.slices import MODES, build_slices
from dra.testing.schema import schema_errors, schema_version

VERSIONS = ("1.34", "1.35")


def test_schemas_for_both_versions_are_bundled() -> None:
    assert schema_version("1.34") == "1.34" and schema_version("1.35") == "1.35"


def check_pool(slices: list[ResourceSlice], version: str) -> None:
    devices = [d.name for s in slices for d in s.spec.devices or []]
    assert len(devices) == len(set(devices)), "device names repeat in the pool"
    sets = {c.name: c for s in slices for c in s.spec.shared_counters or []}
    assert len(sets) == sum(len(s.spec.shared_counters or []) for s in slices)
    assert {s.spec.pool.resource_slice_count for s in slices} == {len(slices)}
    assert len({s.spec.pool.generation for s in slices}) == 1
    for s in slices:
        local = {c.name for c in s.spec.shared_counters or []}
        heavy = any(d.consumes_counters or d.taints for d in s.spec.devices or [])
        limit = 64 if (heavy and version == "1.35") else 128
        assert len(s.spec.devices or []) <= limit
        if version == "1.35":
            assert not (s.spec.devices and s.spec.shared_counters)
            assert len(s.spec.shared_counters or []) <= 8
        for d in s.spec.devices or []:
            assert len(d.attributes or {}) + len(d.capacity or {}) <= 32
            for use in d.consumes_counters or []:
                assert use.counter_set in (local if version == "1.34" else sets)
                assert set(use.counters) <= set(sets[use.counter_set].counters)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("mode", MODES)
def test_every_profile_validates(mode: str, version: str) -> None:
    for profile in builtin.profile_names():
        slices = build_slices(builtin.load_profile(profile, f"{profile}-node"), mode=mode, k8s_version=version)
        check_pool(slices, version)
        for s in slices:
            data = s.to_dict()
            where = f"{profile}/{mode}/{version}/{s.metadata.name}"
            assert schema_errors(data, version) == [], where
            assert [str(e) for e in validate(s, k8s_version=version)] == [], where
            assert ResourceSlice.from_dict(data).to_dict() == data, where


def test_gb200_rack_validates() -> None:
    for node in builtin.gb200_nvl72_rack("rack", nodes=2):
        for version in VERSIONS:
            slices = build_slices(node, mode="dynamic-mig", k8s_version=version)
            check_pool(slices, version)
            for s in slices:
                assert schema_errors(s.to_dict(), version) == []
                assert list(validate(s, k8s_version=version)) == []
