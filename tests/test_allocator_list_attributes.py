"""matchAttribute/distinctAttribute on list-typed attributes (DRAListTypeAttributes, 1.36+).

Upstream (experimental variant, ``attributeAsSet``): a scalar is a one-element set, a
non-empty list the set of its values; matchAttribute keeps the running intersection of
all devices' sets (non-empty, same type), distinctAttribute needs pairwise-disjoint sets.
The attribute objects here carry the wire shape ``dra.api`` gives list attributes
(``ints``/``bools``/``strings``/``versions``); the upstream oracle re-checks these rules
once the API model accepts list attributes.
"""

from __future__ import annotations

from types import SimpleNamespace

from dra.allocator.constraints import DistinctAttribute, MatchAttribute, attribute_set

DRIVER = "gpu.example.com"


def _attr(**kw):
    base = {"string": None, "int_": None, "bool_": None, "version": None,
            "ints": None, "bools": None, "strings": None, "versions": None}
    base.update(kw)
    return SimpleNamespace(**base)


def _device(index: int, attr) -> SimpleNamespace:
    return SimpleNamespace(index=index, attributes={"numa": attr}, attr_cache={},
                           slice=SimpleNamespace(driver=DRIVER))


def _match() -> MatchAttribute:
    c = MatchAttribute(f"{DRIVER}/numa", None)
    c.list_mode = True
    return c


def _distinct() -> DistinctAttribute:
    c = DistinctAttribute(f"{DRIVER}/numa", None)
    c.list_mode = True
    return c


def test_attribute_set_prefers_a_non_empty_list() -> None:
    assert attribute_set(_attr(ints=[0, 1])) == ("int", frozenset({0, 1}))
    assert attribute_set(_attr(int_=3)) == ("int", frozenset({3}))
    assert attribute_set(_attr(ints=[], string="a")) == ("string", frozenset({"a"}))
    assert attribute_set(_attr()) is None


def test_match_narrows_the_intersection_and_backtracks() -> None:
    c = _match()
    assert c.add("r", None, _device(0, _attr(ints=[0, 1])))
    assert c.add("r", None, _device(1, _attr(int_=1)))          # {0,1} & {1} = {1}
    assert not c.add("r", None, _device(2, _attr(ints=[0])))    # {1} & {0} = {}
    c.remove("r", None, _device(1, _attr(int_=1)))               # back to {0,1}
    assert c.add("r", None, _device(2, _attr(ints=[0])))
    assert not c.add("r", None, _device(3, _attr(strings=["0"])))  # other type never matches


def test_distinct_needs_pairwise_disjoint_sets() -> None:
    c = _distinct()
    assert c.add("r", None, _device(0, _attr(ints=[0, 1])))
    assert not c.add("r", None, _device(1, _attr(int_=1)))
    assert c.add("r", None, _device(2, _attr(ints=[2, 3])))
    assert c.add("r", None, _device(3, _attr(string="1")))        # other type: disjoint
    c.remove("r", None, _device(3, _attr(string="1")))
    c.remove("r", None, _device(2, _attr(ints=[2, 3])))
    assert c.add("r", None, _device(4, _attr(ints=[3])))


def test_distinct_refuses_an_attribute_without_value_even_first() -> None:
    assert not _distinct().add("r", None, _device(0, _attr()))


# --- list attributes end to end: the API model, the CEL environment and the allocator together

_LIST_PROBLEM = {
    "classes": [{"apiVersion": "resource.k8s.io/v1", "kind": "DeviceClass", "metadata": {"name": "gpu"},
                 "spec": {"selectors": [{"cel": {"expression": f'device.driver == "{DRIVER}"'}}]}}],
    "slices": [{"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice", "metadata": {"name": "s1"},
                "spec": {"driver": DRIVER, "nodeName": "n1",
                         "pool": {"name": "n1", "generation": 1, "resourceSliceCount": 1},
                         "devices": [{"name": "gpu-0", "attributes": {"numa": {"ints": [1, 2]}}},
                                     {"name": "gpu-1", "attributes": {"numa": {"ints": [0, 1]}}},
                                     {"name": "gpu-2", "attributes": {"numa": {"int": 0}}}]}}],
    "claims": [{"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
                "metadata": {"name": "c", "namespace": "default", "uid": "u1"},
                "spec": {"devices": {"requests": [{"name": "r", "exactly": {
                    "deviceClassName": "gpu", "allocationMode": "ExactCount", "count": 2,
                    "selectors": [{"cel": {"expression": f'device.attributes["{DRIVER}"].numa.includes(0)'}}]}}],
                    "constraints": [{"requests": ["r"], "matchAttribute": f"{DRIVER}/numa"}]}}}],
    "nodeName": "n1",
}

# (minor, allocator features, CEL features) as the scheduler sets them with DRAListTypeAttributes on
_LIST_CASES = [
    ("1.36", {"AdminAccess": True, "PrioritizedList": True, "PartitionableDevices": True, "DeviceTaints": True,
              "ConsumableCapacity": True, "DeviceBindingAndStatus": True},
     {"EnableConsumableCapacity": True, "EnableListTypeAttributes": True}),
    ("1.37", {"AdminAccess": True, "PrioritizedList": True, "PartitionableDevices": True, "DeviceTaints": True,
              "ConsumableCapacity": True, "DeviceBindingAndStatus": True, "ListTypeAttributes": True}, None),
]


def _list_problem(features, cel):
    problem = dict(_LIST_PROBLEM, features=features)
    if cel is not None:
        problem["celFeatures"] = cel
    return problem


def test_list_attribute_selectors_and_constraints_allocate() -> None:
    """includes() on a list attribute selects gpu-1 and gpu-2 in both minors; matchAttribute over
    lists is a set intersection ({0,1} & {0}) only where the allocator has ListTypeAttributes (1.37
    experimental); 1.36's incubating variant compares the attribute values whole, so they differ."""
    from dra.testing.oracle_diff import solve_ours

    expected = {"1.36": None, "1.37": ["gpu-1", "gpu-2"]}
    for minor, features, cel in _LIST_CASES:
        ours = solve_ours(_list_problem(features, cel), minor)
        assert ours["error"] is None, (minor, ours)
        devices = None if ours["results"] is None else [r["device"] for r in ours["results"][0]["devices"]["results"]]
        assert devices == expected[minor], (minor, ours)


def test_list_attributes_agree_with_upstream() -> None:
    import pytest

    from dra.testing import oracle
    from dra.testing.oracle_diff import canonical_result, solve_ours

    reason = oracle.skip_reason()
    if reason:
        pytest.skip(reason)
    for minor, features, cel in _LIST_CASES:
        problem = _list_problem(features, cel)
        with oracle.UpstreamAllocator(minor) as upstream:
            theirs = upstream.solve(dict(problem, id="list"))
        ours = solve_ours(problem, minor)
        assert theirs.get("error") is None and ours["error"] is None, (minor, theirs, ours)
        assert theirs["unschedulable"] == ours["unschedulable"], (minor, theirs, ours)
        assert [canonical_result(r) for r in theirs["results"] or []] == \
            [canonical_result(r) for r in ours["results"] or []], minor
