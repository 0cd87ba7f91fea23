"""dra.cel against upstream's ``k8s.io/dynamic-resource-allocation/cel``, per Kubernetes minor.

Two parts:

* ``tests/data/cel_oracle_regressions.json``: every disagreement the differential test found,
  recorded with upstream's answer (compile error / evaluation error / result, and whether the
  API server's cost estimate refuses the selector). They replay without Go; with Go the
  recorded answers are checked against the oracle too, so the table cannot go stale.
* a hypothesis differential test (``dra.testing.cel_strategies`` expressions and devices):
  for each generated case, the NewExpressions verdict (accept/reject, estimated cost over the
  limit or not) and the StoredExpressions evaluation on the device (result, or that it fails)
  must agree with upstream. ``FUZZ_EXAMPLES`` sets the number of cases per minor, the same
  cases every run unless ``ORACLE_RANDOM=1`` (``make fuzz``).

The oracle is built on demand from the Go module proxy (``upstream/cel``); without Go these
oracle tests skip with one line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from dra.testing import cel_oracle
from dra.testing.cel_oracle import CelOracle, ours, outcome, request
from dra.testing.cel_strategies import cases

MINORS = ("1.34", "1.35", "1.36", "1.37")
REGRESSIONS = json.loads((Path(__file__).parent / "data" / "cel_oracle_regressions.json").read_text())
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "400"))
# As the allocator oracle: the same cases every run (a CI run fails only on a change, never on
# a draw); ORACLE_RANDOM=1 draws fresh ones (exploration, as `make fuzz` does for the allocator).
RANDOM = os.environ.get("ORACLE_RANDOM") == "1"
COST_LIMIT = 1_000_000

needs_go = pytest.mark.skipif(cel_oracle.skip_reason() is not None, reason=cel_oracle.skip_reason() or "")


def _ours(case: dict[str, Any]) -> dict[str, Any]:
    f = case["features"]
    return ours(case["expression"], minor=case["minor"], device=case["device"] if case["stored"] else None,
                consumable_capacity=f["consumableCapacity"], list_type_attributes=f["listTypeAttributes"],
                stored=case["stored"])


def _ids(case: dict[str, Any]) -> str:
    return f"{case['minor']}-{case['why']}"


@pytest.mark.parametrize("case", REGRESSIONS, ids=[_ids(c) for c in REGRESSIONS])
def test_recorded_upstream_answers_replay(case: dict[str, Any]) -> None:
    mine = _ours(case)
    assert outcome(mine) == outcome(case["upstream"]), (mine, case["upstream"])
    if case["apiRejectsCost"] is not None and "compileError" not in mine:
        assert (mine["maxCost"] > COST_LIMIT) == case["apiRejectsCost"]
    # where both fail at compile time, cel-go's "found no matching overload" / "undeclared
    # reference" text is what we promise (positions and carets aside)
    up_error = case["upstream"].get("compileError", "")
    for promise in ("found no matching overload for", "undeclared reference to"):
        if promise in up_error:
            first = up_error.split("\n")[0]
            assert first.split(": ", 2)[-1] in mine["compileError"]


def test_regression_table_covers_every_minor() -> None:
    assert {c["minor"] for c in REGRESSIONS} == set(MINORS)
    assert len(REGRESSIONS) >= 100


@needs_go
@pytest.mark.parametrize("minor", MINORS)
def test_recorded_answers_are_upstream_answers(minor: str) -> None:
    oracle = CelOracle.for_version(minor)
    recorded = [c for c in REGRESSIONS if c["minor"] == minor]
    answers = oracle.ask_many([
        request(c["expression"], device=c["device"] if c["stored"] else None, stored=c["stored"],
                consumable_capacity=c["features"]["consumableCapacity"],
                list_type_attributes=c["features"]["listTypeAttributes"])
        for c in recorded
    ])
    for case, answer in zip(recorded, answers):
        assert outcome(answer) == outcome(case["upstream"]), case["why"]


@needs_go
@pytest.mark.parametrize("minor", MINORS)
def test_differential_against_upstream_cel(minor: str) -> None:
    oracle = CelOracle.for_version(minor)

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not RANDOM,
              suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate, Phase.shrink])
    @given(cases(minor=minor))
    def check(case: dict[str, Any]) -> None:
        f = case["features"]
        kw = {"consumable_capacity": f["consumableCapacity"], "list_type_attributes": f["listTypeAttributes"]}
        new_up, stored_up = oracle.ask_many([
            request(case["expression"], stored=False, **kw),
            request(case["expression"], device=case["device"], stored=True, **kw),
        ])
        new_ours = ours(case["expression"], minor=minor, stored=False, **kw)
        stored_ours = ours(case["expression"], minor=minor, device=case["device"], stored=True, **kw)
        assert outcome(new_ours) == outcome(new_up), ("new", new_ours, new_up)
        if "maxCost" in new_up:
            assert (new_ours["maxCost"] > COST_LIMIT) == (new_up["maxCost"] > COST_LIMIT), ("cost", new_ours, new_up)
        assert outcome(stored_ours) == outcome(stored_up), ("stored", stored_ours, stored_up)

    check()
