"""Compile-time behaviour: syntax errors with positions, static checks, environments, cache."""

from __future__ import annotations

import pytest

from dra.cel import CelCompileError, CelDevice, CelRuntimeError, compile_selector
from dra.cel.selector import Selector
from dra.errors import UserError


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("?!", "ERROR: <input>:1:1: Syntax error: mismatched input '?'"),
        ('device.driver == "gpu.nvidia.com" &&', "ERROR: <input>:1:37: Syntax error: mismatched input '<EOF>'"),
        ('device.driver ==\n  == "x"', "ERROR: <input>:2:3: Syntax error"),
        ('"unterminated', "ERROR: <input>:1:1: Syntax error: token recognition error"),
        ("1 @ 2", "ERROR: <input>:1:3: Syntax error: token recognition error at: '@'"),
        ("device.", "Syntax error"),
    ],
)
def test_syntax_errors_have_positions(expr: str, message: str) -> None:
    with pytest.raises(CelCompileError) as info:
        compile_selector(expr)
    text = str(info.value)
    assert text.startswith("compilation failed: ")
    assert message in text
    assert "\n" not in text


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("x == 1", "ERROR: <input>:1:1: undeclared reference to 'x' (in container '')"),
        ("frobnicate()", "undeclared reference to 'frobnicate'"),
        ("device.driver.frobnicate()", "undeclared reference to 'frobnicate'"),
        ("device.foo", "ERROR: <input>:1:8: undefined field 'foo'"),
        ('"abc" > 5', "found no matching overload for '_>_' applied to '(string, int)'"),
        ('"abc".contains(1)', "found no matching overload for 'contains' applied to 'string.(int)'"),
        ('"a" == 1', "found no matching overload for '_==_' applied to '(string, int)'"),
        ("1 + 1.0", "found no matching overload for '_+_' applied to '(int, double)'"),
        ("1u + 1", "found no matching overload for '_+_'"),
        ("!1", "found no matching overload for '!_'"),
        ('-"a"', "found no matching overload for '-_'"),
        ("1 ? true : false", "found no matching overload for '_?_:_'"),
        ('[1, "a"].size() > 0', "expected type 'int' but found 'string'"),
        ('{"a": 1, "b": "x"}.size() > 0', "expected type 'int' but found 'string'"),
        ("9223372036854775808 > 0", "invalid int literal"),
        ("-1u == 1u", "invalid uint literal"),
        ('"\\q" == ""', "invalid escape sequence"),
        ('"a".matches("(")', "error parsing regexp"),
        ('"abc".reverse() == ""', "found no matching overload for 'reverse'"),  # ext.strings v3 only
        ("[1].all(x.y, true)", "argument must be a simple name"),
        ("has(device)", "invalid argument to has() macro"),
        ("device.driver.size.x", "does not support field selection"),
        ("1", "must evaluate to bool or the unknown type, not int"),
        ('device.driver', "must evaluate to bool or the unknown type, not string"),
        ("[true]", "must evaluate to bool or the unknown type, not list(bool)"),
        ('device.capacity["d"].memory', "must evaluate to bool or the unknown type, not kubernetes.Quantity"),
        # _==_ is (A, A) and ?: needs one type for both arms, as in cel-go's checker
        ("1 == 1.0", "found no matching overload for '_==_' applied to '(int, double)'"),
        ('{"a": 1} == {"a": 1.0}', "applied to '(map(string, int), map(string, double))'"),
        ("true ? 1 : 'a'", "found no matching overload for '_?_:_' applied to '(bool, int, string)'"),
        ("2 in [1.0, 2.0]", "found no matching overload for '@in' applied to '(int, list(double))'"),
        ("[1, 2][1u] == 2", "found no matching overload for '_[_]' applied to '(list(int), uint)'"),
        ("[?1].size() == 1", "expected type 'optional_type' but found 'int'"),
        ("{1: 'a'}[1u] == 'a'", "found no matching overload for '_[_]' applied to '(map(int, string), uint)'"),
    ],
)
def test_static_checks(expr: str, message: str) -> None:
    with pytest.raises(CelCompileError) as info:
        compile_selector(expr)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "expr",
    [
        'device.attributes["gpu.nvidia.com"].model',  # dyn result is allowed
        'device.attributes["gpu.nvidia.com"].index > 5',  # dyn compared with int
        "dyn(1) == 'a'",
        'device.attributes["x"].exists(k, k.startsWith("a"))',
        "1u < 2.5 && 2.0 > 1",  # cross-type numeric ordering is enabled in Kubernetes
        "'%s %d'.format([[1, 'a'], 2]) != ''",  # literals inside format() may mix types
        'device.attributes["d"].x == 1.0 || device.attributes["d"].x == null',
    ],
)
def test_dyn_expressions_compile(expr: str) -> None:
    compile_selector(expr)


def test_allow_multiple_allocations_availability() -> None:
    expr = "device.allowMultipleAllocations == false"
    with pytest.raises(CelCompileError, match="undefined field 'allowMultipleAllocations'"):
        compile_selector(expr, env_type="new", consumable_capacity=False)
    for env, gate in (("new", True), ("stored", False), ("stored", True)):
        sel = compile_selector(expr, env_type=env, consumable_capacity=gate)
        assert sel.matches(CelDevice.from_parts("d", allow_multiple_allocations=None))
        assert not sel.matches(CelDevice.from_parts("d", allow_multiple_allocations=True))


def test_cache_returns_the_same_selector() -> None:
    a = compile_selector('device.driver == "a"')
    assert compile_selector('device.driver == "a"') is a
    assert compile_selector('device.driver == "a"', env_type="new") is not a
    assert a.expression == 'device.driver == "a"'
    assert a.estimated_max_cost == 3  # device.driver (2) + string equality with a 1-char literal (ceil(0.1))


def test_unknown_env_type_is_a_user_error() -> None:
    with pytest.raises(UserError, match="unknown environment type"):
        Selector("true", "bogus")


def test_errors_are_user_errors() -> None:
    assert issubclass(CelCompileError, UserError)
    assert issubclass(CelRuntimeError, UserError)


def test_non_bool_dyn_result_is_a_runtime_error() -> None:
    sel = compile_selector('device.attributes["d"].name')
    with pytest.raises(CelRuntimeError, match="CEL result of type string could not be converted to bool"):
        sel.matches(CelDevice.from_parts("d", {"name": "x"}))


def test_cost_limit() -> None:
    nested = "[1,2,3,4,5,6,7,8,9,10]"
    expr = f"{nested}.all(a, {nested}.all(b, {nested}.all(c, {nested}.all(d, {nested}.all(e, {nested}.all(f, true))))))"
    with pytest.raises(CelRuntimeError, match="actual cost limit exceeded"):
        compile_selector(expr).matches(CelDevice.from_parts("d"))
    # a cheap loop is fine, and the limit is per evaluation
    cheap = compile_selector(f"{nested}.all(a, {nested}.all(b, a * b > 0))")
    for _ in range(3):
        assert cheap.matches(CelDevice.from_parts("d"))


def test_cost_limit_on_string_growth() -> None:
    # doubling a string with nested binds is charged by size and stops early
    text = ""
    body = "'x'"
    for i in range(40):
        text += f"cel.bind(s{i}, {body} + {body}, "
        body = f"s{i}"
    text += f"{body}.size() > 0" + ")" * 40
    with pytest.raises(CelRuntimeError, match="actual cost limit exceeded"):
        compile_selector(text).matches(CelDevice.from_parts("d"))


@pytest.mark.parametrize(
    ("expr", "cost"),
    [
        ("true", 0),
        ('device.driver == ""', 2),
        ('device.driver == "abcdefghijk"', 4),  # ceil(0.1 * 11)
        ('device.attributes["d"].x == 1', 5),
        ('"x" in device.attributes', 3),
        ('device.attributes["d"].x in ["a", "b", "c"]', 4 + 10 + 3),  # list literal 10, in-list = size
        ("[1, 2, 3].all(x, x > 0)", 10 + 1 + 3 * (3 + 2)),
        # exists: condition @not_strictly_false(!accu) (3) + accu in the step (1) + predicate (2)
        ('device.attributes.exists(d, d.startsWith("gpu"))', 2 + 1 + 32 * (4 + 1 + 1)),
        ('device.attributes["d"].s.matches("^a+$")', 4 + 7 * 1),  # ceil(0.1*65) * ceil(0.25*4)
        ('has(device.attributes["d"].x)', 3),  # presence tests are free
        ("cel.bind(x, 1, x > 0)", 10 + 0 + 2),
    ],
)
def test_estimated_max_cost(expr: str, cost: int) -> None:
    assert compile_selector(expr).estimated_max_cost == cost


def test_estimate_of_unbounded_loops_saturates() -> None:
    # dyn(): an attribute value itself is google.protobuf.Any, which cannot be a loop range
    sel = compile_selector('dyn(device.attributes["d"].list).all(x, x.all(y, y > 0))')
    assert sel.estimated_max_cost == 2**64 - 1


def test_deep_nesting_and_long_chains() -> None:
    device = CelDevice.from_parts("d")
    assert compile_selector("(" * 500 + "1" + ")" * 500 + " == 1").matches(device)
    chain = " || ".join(["false"] * 2000 + ['device.driver == "d"'])
    assert compile_selector(chain).matches(device)
    with pytest.raises(CelCompileError, match="expression recursion limit exceeded"):
        compile_selector(" + ".join(["1"] * 1000) + " > 0")
