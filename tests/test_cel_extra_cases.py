"""The upstream CEL selector cases that are not in the shared sample, transcribed by us.

``tests/data/cel-extra-cases.jsonl`` holds the other 18 of the 37 cases of Kubernetes 1.35's
``dynamic-resource-allocation/cel/compile_test.go`` (the shared ``cel-cases.jsonl`` has 19).
Together they cover every upstream case that does not depend on the 1.36 list-type
attributes. Each case checks the outcome and, where upstream states it, the exact
*estimated* maximum cost, through the same runner as ``dra conformance cel``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dra.testing.cel_conformance import load_cases, run_case

_PATH = Path(__file__).parent / "data" / "cel-extra-cases.jsonl"
_CASES = load_cases(_PATH)

# Upstream's case names not in the shared sample; a lost line in the data file must fail here.
_EXPECTED_NAMES = {
    "false", "type-error", "runtime-error-lookup-map", "domain-check-positive", "real-driver-name",
    "driver-name-qualifier-map-lookup", "qualified-attribute-name", "int", "version", "quantity",
    "check-negative", "many", "check_attribute_ids", "regexp_attribute", "check_capacity_ids",
    "allow_multiple_allocations", "allow_multiple_allocations_false", "allow_multiple_allocations_enabled",
}


def test_file_holds_every_missing_upstream_case() -> None:
    assert {case.name for case in _CASES} == _EXPECTED_NAMES
    # Every case that compiles states its estimated cost, as upstream compares it for all of them.
    for case in _CASES:
        if case.outcome != "compileError":
            assert case.expected_cost is not None, case.name


@pytest.mark.parametrize("case", _CASES, ids=[case.name for case in _CASES])
def test_upstream_case(case) -> None:  # type: ignore[no-untyped-def]
    ok, expected, actual = run_case(case)
    assert ok, f"{case.name} ({case.where}): expected {expected}, got {actual}"


def test_runner_checks_the_cost() -> None:
    """A wrong expected cost must fail the case: the cost check is not a no-op."""
    from dataclasses import replace

    case = next(c for c in _CASES if c.name == "check_attribute_ids")
    ok, expected, actual = run_case(replace(case, expected_cost=case.expected_cost + 1))
    assert not ok and "estimated max cost 134" in expected and "estimated max cost 133" in actual
