"""Replay of every disagreement the upstream oracle found (``tests/data/oracle-regressions``).

Each case holds a generated problem, the minor it was found on and the upstream answer
recorded then, so the replay needs no Go: ``dra.allocator`` for that minor must give the
same answer (``dra.testing.oracle_diff.differences``). With Go, the recorded upstream answer
is also re-checked against the oracle, so a stale recording cannot hide a change.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dra.testing import oracle as oracle_mod
from dra.testing.oracle_cases import load_regressions
from dra.testing.oracle_diff import behaviour_for, differences, pool_count, solve_ours

DATA = Path(__file__).parent / "data" / "oracle-regressions"
CASES = load_regressions(DATA)


def test_there_are_regression_cases() -> None:
    assert len(CASES) >= 10
    assert {c["minor"] for c in CASES} >= {"1.34", "1.36", "1.37"}


@pytest.mark.parametrize("case", CASES, ids=[c["_file"] for c in CASES])
def test_regression_agrees_with_recorded_upstream(case: dict) -> None:
    ours = solve_ours(case["problem"], case["minor"])
    assert not differences(case["problem"], ours, case["upstream"], case["minor"]), case["why"]


@pytest.mark.skipif(oracle_mod.skip_reason() is not None, reason=oracle_mod.skip_reason() or "")
def test_recordings_still_match_upstream() -> None:
    by_minor: dict[str, list[dict]] = {}
    for c in CASES:
        by_minor.setdefault(c["minor"], []).append(c)
    for minor, cases in sorted(by_minor.items()):
        with oracle_mod.UpstreamAllocator(minor) as oracle:
            answers = oracle.solve_many([c["problem"] for c in cases])
        for case, now in zip(cases, answers):
            if not behaviour_for(case["problem"], minor).ordered and pool_count(case["problem"]) > 1:
                continue  # upstream walks these pools in Go map order: its answer may change per run
            # Compare the recording with today's upstream answer the same way ours is compared.
            assert not differences(case["problem"], case["upstream"] | {"variant": now.get("variant")}, now, minor), \
                case["_file"]
