"""Differential test: dra.allocator against the upstream allocator library, per minor.

Hypothesis generates valid problems (``dra.testing.strategies.oracle_problems``, checked
with ``dra.api.validation``) for each supported minor, once with that minor's default
gates and once with every gate on; each batch is sent to the upstream oracle (Go,
``upstream/allocator``, ``k8s.io/dynamic-resource-allocation`` of that minor) and to
``dra.allocator`` with the same version, and the answers are compared
(``dra.testing.oracle_diff``). Needs Go (skips with one line otherwise); the first run
builds the four oracles (minutes), later runs reuse them.

Where upstream itself panics (v0.34.4 and v0.35.4 have since-fixed crashes with counters
in AllocationMode All), there is nothing to emulate: those problems are counted apart.
1.34's alpha ConsumableCapacity is generated too (with every gate on): its experimental
variant rechecks capacity on the wrong device, which ``dra.allocator`` reproduces.

``ORACLE_EXAMPLES`` (problems per version and mode, default 400 in ``make test``) and
``DRA_ORACLE_FAILURES`` (a directory: every disagreement is written there as a
replayable case) and ``ORACLE_RANDOM=1`` (fresh seeds) are what ``make fuzz`` sets.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dra.allocator.variants import features_for_gates
from dra.testing import oracle as oracle_mod
from dra.testing.oracle_diff import differences, solve_ours
from dra.testing.strategies import oracle_problems
from dra.versions import SUPPORTED_MINORS, default_gates, gates_of

BATCH = 25
EXAMPLES = int(os.environ.get("ORACLE_EXAMPLES", "400"))
RANDOM = os.environ.get("ORACLE_RANDOM") == "1"  # make fuzz: fresh seeds every run
STATS: dict[tuple[str, str], list[float]] = {}

pytestmark = pytest.mark.skipif(oracle_mod.skip_reason() is not None, reason=oracle_mod.skip_reason() or "")


@pytest.fixture(scope="module", params=SUPPORTED_MINORS)
def upstream(request: pytest.FixtureRequest):
    try:
        with oracle_mod.UpstreamAllocator(request.param, progress=True) as oracle:
            yield oracle
    except oracle_mod.OracleUnavailable as err:
        pytest.skip(str(err))


def _valid(problem: dict, minor: str, gates: dict[str, bool]) -> bool:
    from dra.api import DeviceClass, ResourceClaim, ResourceSlice
    from dra.api.validation import validate, validate_pools
    from dra.versions import KubernetesVersion

    version = KubernetesVersion(minor=minor, gates=gates)
    slices = [ResourceSlice.from_dict(s) for s in problem["slices"]]
    objs = [*slices, *(DeviceClass.from_dict(c) for c in problem["classes"]),
            *(ResourceClaim.from_dict(c) for c in problem["claims"])]
    if any(validate(o, k8s_version=version) for o in objs):
        return False
    return not (minor != "1.34" and validate_pools(slices))


def _record(problem: dict, theirs: dict, minor: str, diffs: list[str]) -> None:
    where = os.environ.get("DRA_ORACLE_FAILURES")
    if not where:
        return
    out = Path(where)
    out.mkdir(parents=True, exist_ok=True)
    name = f"{minor}-{abs(hash(json.dumps(problem, sort_keys=True))) % 10**10}.json"
    (out / name).write_text(json.dumps(
        {"minor": minor, "problem": problem, "upstream": theirs, "differences": diffs}, indent=1))


def _mode_gates(minor: str, mode: str) -> dict[str, bool]:
    return default_gates(minor) if mode == "defaults" else {g: True for g in gates_of(minor)}


@pytest.mark.parametrize("mode", ["defaults", "all-on"])
def test_agrees_with_upstream(upstream, mode: str) -> None:
    minor = upstream.minor
    gates = _mode_gates(minor, mode)
    features = features_for_gates(minor, gates)
    checked = [0]
    failures: list[str] = []
    panics = [0]

    @settings(max_examples=max(1, EXAMPLES // BATCH), deadline=None, derandomize=not RANDOM,
              suppress_health_check=list(HealthCheck), database=None)
    @given(st.lists(oracle_problems(minor, features, gates=gates), min_size=BATCH, max_size=BATCH))
    def run(batch: list[dict]) -> None:
        problems = [p for p in batch if _valid(p, minor, gates)]
        for i, p in enumerate(problems):
            p["id"] = i
        started = time.perf_counter()
        answers = upstream.solve_many(problems)
        STATS.setdefault((minor, mode), []).append(time.perf_counter() - started)
        for problem, theirs in zip(problems, answers):
            if theirs.get("panic"):
                panics[0] += 1
                continue
            ours = solve_ours(problem, minor)
            diffs = differences(problem, ours, theirs, minor)
            checked[0] += 1
            if diffs:
                _record(problem, theirs, minor, diffs)
                failures.append(json.dumps(problem) + "\n  " + "\n  ".join(diffs))

    run()
    print(f"oracle {minor} {mode}: {checked[0]} problems compared, {panics[0]} upstream panics, "
          f"{len(failures)} disagreements")
    assert checked[0] > 0
    assert not failures, f"{len(failures)} of {checked[0]} problems disagree with upstream {minor}:\n" + \
        "\n".join(failures[:3])
