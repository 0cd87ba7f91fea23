"""The pure publish planner: generations, minimal writes, safe ordering (no API server)."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dra.slices.naming import generate_name
from dra.slices.reconcile import DesiredSliceError, ExistingSlice, plan_publish, prepare_desired
from dra.testing.apiserver_pools import devices_of, pool_view

DRIVER = "gpu.nvidia.com"
NODE = "node-a"
OWNER = {"apiVersion": "v1", "kind": "Node", "name": NODE, "uid": "uid-1", "controller": True}
NOW = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.timezone.utc)


def device(name: str, memory: str = "80Gi") -> dict:
    return {"name": name, "attributes": {"type": {"string": "gpu"}}, "capacity": {"memory": {"value": memory}}}


def desired_slice(*names: str, memory: str = "80Gi", pool: str = NODE) -> dict:
    return {"spec": {"driver": DRIVER, "nodeName": NODE, "pool": {"name": pool, "generation": 1,
                                                                  "resourceSliceCount": 1},
                     "devices": [device(n, memory) for n in names]}}


_names = itertools.count()


def stored(*names: str, generation: int, count: int, memory: str = "80Gi", pool: str = NODE,
           owner: dict | None = OWNER, index: int | None = None) -> ExistingSlice:
    """A slice on the server; ``index`` is the position its name carries (None: a legacy name)."""
    serial = next(_names)
    name = f"{NODE}-{DRIVER}-{serial:05d}" if index is None else f"{generate_name(index, count, DRIVER, NODE)}s{serial:04d}"
    obj = {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice",
           "metadata": {"name": name, "uid": f"u{serial}", "resourceVersion": str(serial),
                        "ownerReferences": [owner] if owner else None},
           "spec": {"driver": DRIVER, "nodeName": NODE,
                    "pool": {"name": pool, "generation": generation, "resourceSliceCount": count},
                    "devices": [device(n, memory) for n in names]}}
    return ExistingSlice.from_object(obj)


def plan(desired: list[dict], existing: list[ExistingSlice]):
    pools = prepare_desired(desired, driver=DRIVER, node_name=NODE)
    return plan_publish(pools, existing, driver=DRIVER, node_name=NODE, owner=OWNER, now=NOW)


def test_new_pool_is_created_at_generation_one_with_owner_and_generate_name() -> None:
    result = plan([desired_slice("gpu-0", "gpu-1"), desired_slice("gpu-2")], [])
    assert result.counts() == {"create": 2, "update": 0, "delete": 0}
    assert result.pools[0].generation == 1
    for index, step in enumerate(result.steps()):
        assert step.body["metadata"] == {"generateName": f"{index:05x}-{DRIVER}-{NODE}-", "ownerReferences": [OWNER]}
        assert step.body["spec"]["pool"] == {"name": NODE, "generation": 1, "resourceSliceCount": 2}
        assert step.body["spec"]["nodeName"] == NODE


def test_identical_state_plans_no_writes() -> None:
    existing = [stored("gpu-0", "gpu-1", generation=4, count=2, index=1), stored("gpu-2", generation=4, count=2, index=0)]
    result = plan([desired_slice("gpu-2"), desired_slice("gpu-0", "gpu-1")], existing)
    assert result.is_noop
    assert result.pools[0].generation == 4
    assert result.pools[0].unchanged == 2


def test_missing_owner_reference_is_a_change() -> None:
    existing = [stored("gpu-0", generation=1, count=1, owner=None, index=0)]
    result = plan([desired_slice("gpu-0")], existing)
    assert result.counts()["update"] == 1


def test_one_changed_slice_is_updated_in_place_without_a_generation_bump() -> None:
    existing = [stored("gpu-0", generation=3, count=2, index=0), stored("gpu-1", generation=3, count=2, index=1)]
    result = plan([desired_slice("gpu-0"), desired_slice("gpu-1", memory="40Gi")], existing)
    assert result.counts() == {"create": 0, "update": 1, "delete": 0}
    assert result.pools[0].generation == 3
    assert result.steps()[0].slice is existing[1]


def test_single_slice_pool_device_added_is_one_update() -> None:
    existing = [stored("gpu-0", generation=2, count=1, index=0)]
    result = plan([desired_slice("gpu-0", "gpu-1")], existing)
    assert result.counts() == {"create": 0, "update": 1, "delete": 0}
    assert result.pools[0].generation == 2


def test_two_changed_slices_bump_the_generation_and_rewrite_every_slice() -> None:
    existing = [stored("gpu-0", generation=3, count=3, index=0), stored("gpu-1", generation=3, count=3, index=1),
                stored("gpu-2", generation=3, count=3, index=2)]
    result = plan([desired_slice("gpu-0", memory="1Gi"), desired_slice("gpu-1", memory="1Gi"),
                   desired_slice("gpu-2")], existing)
    assert result.pools[0].generation == 4
    assert result.counts() == {"create": 0, "update": 3, "delete": 0}
    assert {s.body["spec"]["pool"]["generation"] for s in result.steps()} == {4}


def test_device_added_in_a_new_slice_bumps_generation() -> None:
    existing = [stored("gpu-0", generation=1, count=2, index=0), stored("gpu-1", generation=1, count=2, index=1)]
    result = plan([desired_slice("gpu-0"), desired_slice("gpu-1"), desired_slice("gpu-2")], existing)
    assert result.pools[0].generation == 2
    assert result.counts() == {"create": 1, "update": 2, "delete": 0}


def test_device_removed_deletes_its_slice_after_the_writes() -> None:
    existing = [stored("gpu-0", generation=1, count=3, index=0), stored("gpu-1", generation=1, count=3, index=1),
                stored("gpu-2", generation=1, count=3, index=2)]
    result = plan([desired_slice("gpu-0"), desired_slice("gpu-1")], existing)
    # gpu-2's slice is rewritten into nothing? No: two desired slices match exactly, the third goes.
    assert result.pools[0].generation == 2
    assert [s.action for s in result.steps()] == ["update", "update", "delete"]
    assert result.steps()[-1].slice is existing[2]


def test_split_into_more_slices_reuses_the_old_slice() -> None:
    existing = [stored("gpu-0", "gpu-1", "gpu-2", "gpu-3", generation=5, count=1, index=0)]
    result = plan([desired_slice("gpu-0", "gpu-1"), desired_slice("gpu-2", "gpu-3")], existing)
    assert result.pools[0].generation == 6
    assert result.counts() == {"create": 1, "update": 1, "delete": 0}


def test_merge_into_fewer_slices_deletes_last() -> None:
    existing = [stored("gpu-0", "gpu-1", generation=1, count=2, index=0),
                stored("gpu-2", "gpu-3", generation=1, count=2, index=1)]
    result = plan([desired_slice("gpu-0", "gpu-1", "gpu-2", "gpu-3")], existing)
    assert [s.action for s in result.steps()] == ["update", "delete"]
    assert result.pools[0].generation == 2


def test_obsolete_generations_are_deleted_oldest_first_after_writes() -> None:
    existing = [stored("gpu-0", generation=7, count=1, index=0), stored("gpu-9", generation=5, count=1),
                stored("gpu-8", generation=6, count=2)]
    result = plan([desired_slice("gpu-0")], existing)
    actions = [(s.action, s.slice.generation if s.slice else None) for s in result.steps()]
    assert actions == [("delete", 5), ("delete", 6)]


def test_interrupted_bump_is_resumed_without_another_bump() -> None:
    # A previous publish moved one slice to generation 2 and then failed.
    done = stored("gpu-0", generation=2, count=2, index=0)
    left = stored("gpu-1", generation=1, count=2, index=1)
    result = plan([desired_slice("gpu-0"), desired_slice("gpu-1")], [done, left])
    assert result.pools[0].generation == 2
    assert result.counts() == {"create": 0, "update": 1, "delete": 0}
    assert result.steps()[0].slice is left  # re-used, not re-created


def test_requested_generation_higher_than_existing_is_used() -> None:
    wanted = desired_slice("gpu-0")
    wanted["spec"]["pool"]["generation"] = 40
    result = plan([wanted], [stored("gpu-0", generation=3, count=1, index=0)])
    assert result.pools[0].generation == 40
    assert result.counts()["update"] == 1


def test_pool_no_longer_desired_is_deleted_oldest_generation_first() -> None:
    existing = [stored("gpu-0", generation=2, count=1, pool="old"), stored("gpu-0", generation=1, count=1,
                                                                           pool="old")]
    result = plan([], existing)
    assert [s.slice.generation for s in result.steps()] == [1, 2]
    assert result.pools[0].generation is None


def test_duplicate_existing_slices_are_removed() -> None:
    one = stored("gpu-0", generation=1, count=2, index=0)
    two = stored("gpu-0", generation=1, count=2, index=0)  # e.g. a create that was retried blindly
    result = plan([desired_slice("gpu-0")], [one, two])
    assert result.pools[0].generation == 2
    assert result.counts() == {"create": 0, "update": 1, "delete": 1}


def test_names_sort_in_the_drivers_order_and_carry_the_index() -> None:
    result = plan([desired_slice(f"gpu-{i}") for i in range(17)], [])
    names = [s.body["metadata"]["generateName"] for s in result.steps()]
    assert names[0] == f"00000-{DRIVER}-{NODE}-" and names[16] == f"00010-{DRIVER}-{NODE}-"
    assert names == sorted(names)


def test_a_slice_is_only_reused_for_the_position_its_name_carries() -> None:
    # Same content, swapped positions: re-using them would make name order differ from slice order.
    existing = [stored("gpu-0", generation=2, count=2, index=1), stored("gpu-1", generation=2, count=2, index=0)]
    result = plan([desired_slice("gpu-0"), desired_slice("gpu-1")], existing)
    assert result.pools[0].generation == 3
    assert result.counts() == {"create": 0, "update": 2, "delete": 0}
    for step in result.steps():  # each existing slice is rewritten with the content of its own position
        position = int(step.slice.name.split("-")[0], 16)
        assert step.body["spec"]["devices"][0]["name"] == f"gpu-{position}"


def test_legacy_names_are_replaced_once_then_names_are_stable() -> None:
    existing = [stored("gpu-0", generation=1, count=2), stored("gpu-1", generation=1, count=2)]  # no index
    result = plan([desired_slice("gpu-0"), desired_slice("gpu-1")], existing)
    assert result.pools[0].generation == 2
    assert [s.action for s in result.steps()] == ["create", "create", "delete", "delete"]
    published = [ExistingSlice.from_object({**s.body, "metadata": {
        **s.body["metadata"], "name": s.body["metadata"]["generateName"] + "abcde", "uid": str(i),
        "resourceVersion": "9"}}) for i, s in enumerate(result.steps()[:2])]
    assert plan([desired_slice("gpu-0"), desired_slice("gpu-1")], published).is_noop


def test_taint_time_is_rounded_and_kept_from_the_published_taint() -> None:
    wanted = desired_slice("gpu-0")
    wanted["spec"]["devices"][0]["taints"] = [{"key": "gpu.nvidia.com/xid", "value": "79", "effect": "NoSchedule"}]
    first = plan([wanted], [])
    taint = first.steps()[0].body["spec"]["devices"][0]["taints"][0]
    assert taint["timeAdded"] == "2026-01-02T03:04:05Z"
    published = ExistingSlice.from_object({**first.steps()[0].body, "metadata": {
        "name": f"00000-{DRIVER}-{NODE}-x", "uid": "u", "resourceVersion": "1", "ownerReferences": [OWNER]}})
    later = plan_publish(prepare_desired([wanted], driver=DRIVER, node_name=NODE), [published], driver=DRIVER,
                         node_name=NODE, owner=OWNER, now=NOW + dt.timedelta(hours=1))
    assert later.is_noop


@pytest.mark.parametrize("mutate, message", [
    (lambda s: s["spec"].update(driver="other.example.com"), "spec.driver"),
    (lambda s: s["spec"].update(nodeName="node-b"), "spec.nodeName"),
    (lambda s: s["spec"].update(nodeSelector={"nodeSelectorTerms": []}), "spec.nodeSelector"),
])
def test_desired_slices_must_be_node_local_and_of_this_driver(mutate, message) -> None:
    wanted = desired_slice("gpu-0")
    mutate(wanted)
    with pytest.raises(DesiredSliceError, match=message):
        plan([wanted], [])


def test_duplicate_device_names_in_a_pool_are_rejected() -> None:
    with pytest.raises(DesiredSliceError, match="duplicate device name 'gpu-0'"):
        plan([desired_slice("gpu-0"), desired_slice("gpu-0")], [])


def test_unknown_counter_set_is_rejected() -> None:
    wanted = desired_slice("gpu-0")
    wanted["spec"]["devices"][0]["consumesCounters"] = [{"counterSet": "gpu-0-counters",
                                                          "counters": {"memory": {"value": "1Gi"}}}]
    with pytest.raises(DesiredSliceError, match="counter set 'gpu-0-counters'"):
        plan([wanted], [])


# --- property: every prefix of a plan is safe for a consumer ---------------------------------------

_DEVICES = [f"gpu-{i}" for i in range(6)]


@st.composite
def layouts(draw: st.DrawFn) -> list[list[str]]:
    """A partition of a subset of the devices into 1..4 slices (a slice may be empty)."""
    chosen = draw(st.lists(st.sampled_from(_DEVICES), unique=True, max_size=6))
    slices = draw(st.integers(1, 4))
    groups: list[list[str]] = [[] for _ in range(slices)]
    for name in chosen:
        groups[draw(st.integers(0, slices - 1))].append(name)
    return groups


@st.composite
def server_states(draw: st.DrawFn) -> tuple[list[ExistingSlice], list[list[str]]]:
    """A published pool (complete, often) plus arbitrary leftovers; also returns its layout."""
    layout = draw(layouts())
    generation = draw(st.integers(1, 3))
    memory = draw(st.sampled_from(["80Gi", "40Gi"]))
    found = [stored(*names, generation=generation, count=len(layout), memory=memory, index=i)
             for i, names in enumerate(layout)]
    if found and draw(st.booleans()):  # an interrupted publish: some slices missing or changed
        for _ in range(draw(st.integers(1, 2))):
            found.pop(draw(st.integers(0, len(found) - 1))) if found else None
    for _ in range(draw(st.integers(0, 3))):  # leftovers of other generations and counts
        names = draw(st.lists(st.sampled_from(_DEVICES), unique=True, max_size=3))
        found.append(stored(*names, generation=draw(st.integers(1, 4)), count=draw(st.integers(1, 4)),
                            memory=draw(st.sampled_from(["80Gi", "40Gi"])),
                            index=draw(st.one_of(st.none(), st.integers(0, 3)))))
    return found, layout


@st.composite
def desired_layouts(draw: st.DrawFn, old: list[list[str]]) -> list[list[str]]:
    """Either a fresh layout or the old one with a few devices moved, added or removed."""
    if not old or draw(st.booleans()):
        return draw(layouts())
    groups = [list(g) for g in old]
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.sampled_from(_DEVICES))
        for group in groups:
            if name in group:
                group.remove(name)
        if draw(st.booleans()):
            groups[draw(st.integers(0, len(groups) - 1))].append(name)
    return groups


@settings(max_examples=200, deadline=None)
@given(data=st.data(), memory=st.sampled_from(["80Gi", "40Gi"]))
def test_every_intermediate_state_is_old_new_or_incomplete(data, memory) -> None:
    existing, old_layout = data.draw(server_states())
    layout = data.draw(desired_layouts(old_layout))
    desired = [desired_slice(*names, memory=memory) for names in layout]
    result = plan(desired, existing)
    state = {s.name: s.obj for s in existing}
    before = pool_view(state.values(), DRIVER, NODE)
    wanted = devices_of(desired)
    serial = itertools.count()
    for step in result.steps():
        if step.action == "create":  # the API server completes generateName with 5 characters
            state[f"{step.body['metadata']['generateName']}n{next(serial):04d}"] = step.body
        elif step.action == "update":
            state[step.slice.name] = step.body
        else:
            del state[step.slice.name]
        view = pool_view(state.values(), DRIVER, NODE)
        if view.complete:
            assert view.devices in (wanted, before.devices), "a consumer would see a complete but wrong pool"
    final = pool_view(state.values(), DRIVER, NODE)
    assert final.complete and final.devices == wanted
    # Exactly the desired slices remain: one generation, the right count, no leftovers.
    assert len(state) == len(desired)
    assert {o["spec"]["pool"]["generation"] for o in state.values()} == {final.generation}
    assert sorted(sorted(d["name"] for d in o["spec"]["devices"]) for o in state.values()) == \
        sorted(sorted(names) for names in layout)
    # Names sort in the driver's slice order (1.36+ allocates in slice-name order).
    by_name = [sorted(d["name"] for d in state[name]["spec"]["devices"]) for name in sorted(state)]
    assert by_name == [sorted(names) for names in layout]
    # Republishing the result is a no-op.
    again = plan(desired, [ExistingSlice.from_object({**obj, "metadata": {
        "name": name, "uid": name, "resourceVersion": "1", "ownerReferences": [OWNER]}}) for name, obj in state.items()])
    assert again.is_noop
