"""More upstream allocator table cases, beyond the 90 shared ones.

``tests/data/allocator-extra/*.json`` are our own hand transcriptions (same format as
``../shared/conformance/README.md``) of further entries of the upstream allocator test table
(``allocatortesting/allocator_testing.go``), mostly the half of the 1.35 table that is not
shared, expanded helper by helper. Each case runs through the same runner as
``dra conformance allocator``, so it is checked under every pool order.

Left out on purpose: cases that only exist on upstream main after 1.35 and test behaviour
1.35 does not have (claim configs de-duplicated, counters released when a candidate is
rejected after reserving them, list-type attributes).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from dra.testing.allocator_conformance import load_cases, run_case

CASES_DIR = Path(__file__).parent / "data" / "allocator-extra"
CASE_FILES = sorted(CASES_DIR.glob("*.json"))


@pytest.mark.parametrize("case_file", CASE_FILES, ids=[f.stem for f in CASE_FILES])
def test_extra_case_passes(case_file: Path) -> None:
    (case,) = load_cases(case_file)
    assert case["name"] == case_file.stem
    outcome = run_case(case)
    assert outcome.passed, outcome.message


def test_extra_cases_are_there_and_distinct_from_shared() -> None:
    assert len(CASE_FILES) >= 100
    names = [json.loads(f.read_text())["name"] for f in CASE_FILES]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("name", ["partitionable-devices-multiple-pools", "tainted-two-devices-prioritized-list-tolerated",
                                  "consumable-capacity-with-multi-allocatable-device-backtrack"])
def test_runner_rejects_a_changed_expectation(name: str) -> None:
    (case,) = load_cases(CASES_DIR / f"{name}.json")
    bad = copy.deepcopy(case)
    first = bad["expect"]["allocations"][0]["allocation"]["devices"]["results"][0]
    first["device"] = "device-9"
    assert not run_case(bad).passed


STEP_FILES = [f for f in CASE_FILES if "expectNumAllocateOneInvocations" in json.loads(f.read_text())]


@pytest.mark.parametrize("case_file", STEP_FILES, ids=[f.stem for f in STEP_FILES])
def test_search_steps_match_upstream_experimental(case_file: Path) -> None:
    """These cases record how often upstream's recursive allocateOne ran; our search mirrors it.

    The counts were read from upstream's experimental variant after 1.35 (main), which already
    searches from the start location: that is the 1.36 experimental behaviour here. The 1.35
    variants restart each device of a request at the first device and count more steps."""
    from dra.allocator import AllocatedState, Allocator, Features
    from dra.allocator.variants import Behaviour
    from dra.api import DeviceClass, Node, ResourceClaim, ResourceSlice

    (case,) = load_cases(case_file)
    allocator = Allocator(
        Features.from_mapping(case["features"]),
        [DeviceClass.from_dict(c) for c in case["classes"]],
        [ResourceSlice.from_dict(s) for s in case["slices"]],
        AllocatedState(),
        behaviour=Behaviour("1.36", "experimental"),
    )
    allocator.allocate(Node.from_dict(case["node"]), [ResourceClaim.from_dict(c) for c in case["claims"]])
    assert allocator.last_stats.steps == case["expectNumAllocateOneInvocations"]
