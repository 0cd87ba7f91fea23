"""The shared upstream allocator cases (../shared/conformance/allocator-v1.35), each under
several pool orders, through the same runner as ``dra conformance allocator``."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest


from conftest import find_shared_dir

from dra.cli import main
from dra.testing.allocator_conformance import load_cases, pool_orders, run_case

_SHARED = find_shared_dir()
CASES_DIR = _SHARED / "conformance" / "allocator-v1.35" if _SHARED else None
CASE_FILES = sorted(CASES_DIR.glob("*.json")) if CASES_DIR and CASES_DIR.is_dir() else []


@pytest.fixture(scope="module")
def cases_dir(shared_dir: Path) -> Path:
    d = shared_dir / "conformance" / "allocator-v1.35"
    if not d.is_dir():
        pytest.skip(f"{d} not found")
    return d


@pytest.mark.parametrize("case_file", CASE_FILES, ids=[f.stem for f in CASE_FILES])
def test_shared_case_passes(case_file: Path) -> None:
    (case,) = load_cases(case_file)
    outcome = run_case(case)
    assert outcome.passed, outcome.message


def test_all_shared_cases_are_there(cases_dir: Path) -> None:
    assert len(list(cases_dir.glob("*.json"))) == 90


def test_cli_runs_directory_and_reports_counts(cases_dir: Path, capsys) -> None:
    assert main(["conformance", "allocator", str(cases_dir)]) == 0
    assert capsys.readouterr().out.strip().endswith("90 passed, 0 failed")


def test_runner_detects_a_wrong_expectation(cases_dir: Path, tmp_path: Path, capsys) -> None:
    case = json.loads((cases_dir / "small-and-large.json").read_text())
    bad = copy.deepcopy(case)
    first = bad["expect"]["allocations"][0]["allocation"]["devices"]["results"][0]
    first["device"] = first["device"] + "-not-this-one"
    wrong_error = copy.deepcopy(json.loads((cases_dir / "unknown-constraint.json").read_text()))
    wrong_error["expect"]["error"]["contains"] = "some other message"
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(json.dumps(c) for c in (case, bad, wrong_error)) + "\n")
    assert main(["conformance", "allocator", str(path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL small-and-large: allocation differs" in out
    assert "FAIL unknown-constraint: expected error containing 'some other message'" in out
    assert out.strip().endswith("1 passed, 2 failed")


def test_missing_path_is_a_user_error(tmp_path: Path, capsys) -> None:
    assert main(["conformance", "allocator", str(tmp_path / "nope")]) == 2
    assert "no such file or directory" in capsys.readouterr().err


def test_pool_orders_cover_all_permutations_of_few_pools() -> None:
    slices = [
        {"spec": {"driver": "d", "pool": {"name": p}}, "metadata": {"name": f"{p}-{i}"}}
        for p in ("a", "b", "c") for i in range(2)
    ]
    orders = list(pool_orders(slices, "x"))
    assert len(orders) == 6
    assert len({tuple(s["metadata"]["name"] for s in o) for o in orders}) == 6
    for order in orders:  # slices of one pool stay together and in order
        names = [s["metadata"]["name"] for s in order]
        for p in "abc":
            assert names.index(f"{p}-1") == names.index(f"{p}-0") + 1


def test_search_mirrors_upstream_recursion(cases_dir: Path) -> None:
    """Upstream counts 75 allocateOne calls for this case; our search makes the same steps."""
    from dra.allocator import Allocator, Features
    from dra.api import DeviceClass, Node, ResourceClaim, ResourceSlice

    (case,) = load_cases(cases_dir / "prioritized-list-max-allocation-limit-request.json")
    alloc = Allocator(
        Features.from_mapping(case["features"]),
        [DeviceClass.from_dict(c) for c in case["classes"]],
        [ResourceSlice.from_dict(s) for s in case["slices"]],
    )
    node = Node.from_dict(case["node"]) if case["node"] else None
    assert alloc.allocate(node, [ResourceClaim.from_dict(c) for c in case["claims"]]) is not None
    assert alloc.last_stats.steps == case["expectNumAllocateOneInvocations"] == 75
