"""The dra.api validation hook provided by dra.cel."""

from __future__ import annotations

from dra.cel.validation import cel_check, make_cel_check

PATH = "spec.devices.requests[0].exactly.selectors[0].cel.expression"


def test_valid_expression_has_no_errors() -> None:
    assert cel_check('device.attributes["gpu.nvidia.com"].type == "gpu"', PATH) == []


def test_compile_error_is_invalid_value() -> None:
    (err,) = cel_check("device.driver ==", PATH)
    assert err.path == PATH
    assert err.message.startswith('Invalid value: "device.driver ==": compilation failed: ERROR: <input>:1:17: Syntax error')


def test_gate_controls_allow_multiple_allocations() -> None:
    expr = "device.allowMultipleAllocations"
    (err,) = cel_check(expr, PATH)
    assert "undefined field 'allowMultipleAllocations'" in err.message
    assert make_cel_check(consumable_capacity=True)(expr, PATH) == []


def test_too_expensive_is_forbidden() -> None:
    loops = "[1,2,3,4,5,6,7,8,9,10]"
    expr = f"{loops}.all(a, {loops}.all(b, {loops}.all(c, {loops}.all(d, {loops}.all(e, {loops}.all(f, a < f))))))"
    (err,) = cel_check(expr, PATH)
    assert err.message == "Forbidden: too complex, exceeds cost limit"
