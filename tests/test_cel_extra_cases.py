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


# Estimated maximum costs that Kubernetes' own cost tests state (apiserver/pkg/cel/library
# cost_test.go, which checks cel-go's estimator with the Kubernetes CostEstimator). Where that
# test's stub size estimator gives a list element a size, the DRA environment has none (no list
# fields are declared on the device), so upstream's DRA estimate saturates: marked _CAP.
_CAP = 2**64 - 1
_UPSTREAM_COSTS = [
    # macro expansions: exists' condition @not_strictly_false(!accu) costs one more than all's
    ("{'a': 1, 'b': 2}.all(k, v, v > 0)", 41),
    ("{'a': 1, 'b': 2}.exists(k, v, v > 0)", 43),
    ("{'a': 1, 'b': 2}.existsOne(k, v, v > 0)", 40),
    ("{'a': 1, 'b': 2}.transformMap(k, v, v + 1)", 71),
    ("{'a': 1, 'b': 2}.transformMap(k, v, v < 5, v + 1)", 75),
    ("{'a': 1, 'b': 2}.transformMapEntry(k, v, {k: v + 1})", 131),
    ("{'a': 1, 'b': 2}.transformMapEntry(k, v, v < 5, {k: v + 1})", 135),
    ("[1, 2].all(i, v, v > 0)", 21),
    ("[1, 2].exists(i, v, v > 0)", 23),
    ("[1, 2].existsOne(i, v, v > 0)", 20),
    ("[1, 2].transformList(i, v, v + 1)", 49),
    ("[1, 2].transformList(i, v, v < 5, v + 1)", 53),
    # DRA compile_test.go (1.36) spells the one-variable exists out: per element the condition
    # (3) and the step (accu 1 + predicate); here 32 attribute ids and a predicate of cost 1
    # (x == "" compares nothing).
    ('device.attributes["dra.example.com"].exists(x, x == "")', 3 + 1 + 32 * (3 + 1 + 1)),
]


@pytest.mark.parametrize(("expr", "cost"), _UPSTREAM_COSTS, ids=[e for e, _ in _UPSTREAM_COSTS])
def test_upstream_estimated_cost(expr: str, cost: int) -> None:
    from dra.cel import Selector

    assert Selector(expr, require_bool=False).estimated_max_cost == cost
