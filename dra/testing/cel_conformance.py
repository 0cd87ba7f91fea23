"""Runner for transcribed upstream CEL selector cases (``conformance/cel-cases.jsonl``).

Each line is one case from Kubernetes' ``dynamic-resource-allocation/cel/compile_test.go``:
an expression, the environment (``StoredExpressions``/``NewExpressions`` and the
DRAConsumableCapacity gate), a device, and the expected outcome (``match``/``noMatch`` with a
result, or ``compileError``/``runtimeError`` with a message substring) and, like upstream,
the exact *estimated* maximum cost of the compiled expression (``expectEstimatedMaxCost``).

``run_cel_conformance`` prints every failure with expected vs actual, ends with
``N passed, M failed`` and returns 0 only when nothing failed. A malformed file raises
:class:`CelCaseError` naming ``file:line``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from dra.cel import CelCompileError, CelDevice, CelRuntimeError, Selector
from dra.errors import UserError

_OUTCOMES = ("match", "noMatch", "compileError", "runtimeError")


class CelCaseError(UserError):
    """A CEL case file is malformed."""


@dataclass(frozen=True)
class CelCase:
    name: str
    where: str  # file:line
    expression: str
    env_type: str
    consumable_capacity: bool
    device: dict[str, Any]
    outcome: str
    result: bool | None
    contains: str | None
    expected_cost: int | None = None


def load_cases(path: str | Path) -> list[CelCase]:
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as ex:
        raise CelCaseError(f"{path}: cannot read: {ex.strerror or ex}") from None
    cases = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as ex:
            raise CelCaseError(f"{where}: invalid JSON: {ex.msg} (column {ex.colno})") from None
        cases.append(_parse_case(record, where))
    return cases


def _parse_case(record: Any, where: str) -> CelCase:
    def need(obj: Any, key: str, kind: type | tuple[type, ...], field: str) -> Any:
        if not isinstance(obj, dict) or key not in obj:
            raise CelCaseError(f"{where}: missing field {field}")
        value = obj[key]
        if not isinstance(value, kind):
            raise CelCaseError(f"{where}: field {field} has the wrong type ({type(value).__name__})")
        return value

    name = need(record, "name", str, "name")
    expression = need(record, "expression", str, "expression")
    env_type = record.get("envType", "StoredExpressions")
    if env_type not in ("StoredExpressions", "NewExpressions"):
        raise CelCaseError(f"{where}: envType must be StoredExpressions or NewExpressions, not {env_type!r}")
    gate = record.get("enableConsumableCapacity", False)
    if not isinstance(gate, bool):
        raise CelCaseError(f"{where}: enableConsumableCapacity must be a boolean")
    device = need(record, "device", dict, "device")
    expect = need(record, "expect", dict, "expect")
    outcome = need(expect, "outcome", str, "expect.outcome")
    if outcome not in _OUTCOMES:
        raise CelCaseError(f"{where}: expect.outcome must be one of {', '.join(_OUTCOMES)}, not {outcome!r}")
    result = contains = None
    if outcome in ("match", "noMatch"):
        result = expect.get("result", outcome == "match")
        if not isinstance(result, bool):
            raise CelCaseError(f"{where}: expect.result must be a boolean")
    else:
        contains = need(expect, "contains", str, "expect.contains")
    cost = record.get("expectEstimatedMaxCost")
    if cost is not None and (not isinstance(cost, int) or isinstance(cost, bool) or cost < 0):
        raise CelCaseError(f"{where}: expectEstimatedMaxCost must be a non-negative integer")
    return CelCase(name, where, expression, env_type, gate, device, outcome, result, contains, cost)


def build_device(case: CelCase) -> CelDevice:
    device = case.device
    driver = device.get("driver", "")
    attributes = device.get("attributes") or {}
    capacity = device.get("capacity") or {}
    for section, entries in (("attributes", attributes), ("capacity", capacity)):
        if not isinstance(entries, dict):
            raise CelCaseError(f"{case.where}: device.{section} must be a map")
    try:
        return CelDevice.from_parts(driver, attributes, capacity, device.get("allowMultipleAllocations"))
    except UserError as ex:
        raise CelCaseError(f"{case.where}: device: {ex}") from None


def run_case(case: CelCase) -> tuple[bool, str, str]:
    """(passed, expected, actual) for one case."""
    if case.outcome in ("match", "noMatch"):
        expected = f"result {str(case.result).lower()}"
    else:
        expected = f"{case.outcome} containing {case.contains!r}"
    env = "new" if case.env_type == "NewExpressions" else "stored"
    try:
        selector = Selector(case.expression, env, case.consumable_capacity)
    except CelCompileError as ex:
        actual = f"compileError {str(ex)!r}"
        return case.outcome == "compileError" and case.contains in str(ex), expected, actual
    if case.expected_cost is not None and selector.estimated_max_cost != case.expected_cost:
        return False, f"estimated max cost {case.expected_cost}", f"estimated max cost {selector.estimated_max_cost}"
    device = build_device(case)
    try:
        result = selector.matches(device)
    except CelRuntimeError as ex:
        actual = f"runtimeError {str(ex)!r}"
        return case.outcome == "runtimeError" and case.contains in str(ex), expected, actual
    actual = f"result {str(result).lower()}"
    return case.outcome in ("match", "noMatch") and result == case.result, expected, actual


def run_cel_conformance(path: str | Path, verbose: bool = False, out: Callable[[str], None] = print) -> int:
    cases = load_cases(path)
    passed = failed = 0
    for case in cases:
        ok, expected, actual = run_case(case)
        if ok:
            passed += 1
            if verbose:
                out(f"ok   {case.name} ({case.where})")
        else:
            failed += 1
            out(f"FAIL {case.name} ({case.where}): expected {expected}, got {actual}")
    out(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1
