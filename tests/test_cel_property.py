"""Differential property tests: compiled CEL vs small independent reference evaluators."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dra.api.quantity import Quantity
from dra.cel import CelRuntimeError, Semver
from dra.cel.selector import evaluate_expression

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class Err:
    """Reference error value."""


ERR = Err()


def _int(value: int) -> Any:
    return value if INT64_MIN <= value <= INT64_MAX else ERR


# An expression is (text, reference_value). Leaves are int literals; nodes are operators.
small_ints = st.integers(min_value=-(2**62), max_value=2**62) | st.integers(min_value=-20, max_value=20)


def int_leaf(n: int) -> tuple[str, Any]:
    return (f"({n})", n)


def combine_int(op: str, a: tuple[str, Any], b: tuple[str, Any]) -> tuple[str, Any]:
    text = f"({a[0]} {op} {b[0]})"
    x, y = a[1], b[1]
    if x is ERR or y is ERR:
        return text, ERR
    if op == "+":
        return text, _int(x + y)
    if op == "-":
        return text, _int(x - y)
    if op == "*":
        return text, _int(x * y)
    if y == 0:
        return text, ERR
    quotient = abs(x) // abs(y) * (1 if (x >= 0) == (y >= 0) else -1)
    if op == "/":
        return text, _int(quotient)
    return text, _int(x - y * quotient)


int_exprs = st.recursive(
    small_ints.map(int_leaf),
    lambda children: st.builds(combine_int, st.sampled_from(["+", "-", "*", "/", "%"]), children, children),
    max_leaves=8,
)


def compare(op: str, a: tuple[str, Any], b: tuple[str, Any]) -> tuple[str, Any]:
    text = f"({a[0]} {op} {b[0]})"
    x, y = a[1], b[1]
    if x is ERR or y is ERR:
        return text, ERR
    result = {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y, "==": x == y, "!=": x != y}[op]
    return text, result


def logic(op: str, a: tuple[str, Any], b: tuple[str, Any]) -> tuple[str, Any]:
    text = f"({a[0]} {op} {b[0]})"
    x, y = a[1], b[1]
    if op == "&&":
        if x is False or y is False:
            return text, False
        return text, ERR if (x is ERR or y is ERR) else True
    if x is True or y is True:
        return text, True
    return text, ERR if (x is ERR or y is ERR) else False


def negate(a: tuple[str, Any]) -> tuple[str, Any]:
    return f"!{a[0]}", ERR if a[1] is ERR else not a[1]


def ternary(c: tuple[str, Any], a: tuple[str, Any], b: tuple[str, Any]) -> tuple[str, Any]:
    text = f"({c[0]} ? {a[0]} : {b[0]})"
    if c[1] is ERR:
        return text, ERR
    return text, a[1] if c[1] else b[1]


bool_leaves = st.one_of(
    st.booleans().map(lambda b: ("true" if b else "false", b)),
    st.builds(compare, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), int_exprs, int_exprs),
)
bool_exprs = st.recursive(
    bool_leaves,
    lambda children: st.one_of(
        st.builds(logic, st.sampled_from(["&&", "||"]), children, children),
        st.builds(negate, children),
        st.builds(ternary, children, children, children),
    ),
    max_leaves=10,
)


def run(text: str) -> Any:
    try:
        return evaluate_expression(text)
    except CelRuntimeError:
        return ERR


@settings(max_examples=100, deadline=None)
@given(int_exprs)
def test_int_arithmetic_matches_reference(expr: tuple[str, Any]) -> None:
    text, expected = expr
    actual = run(text)
    assert (actual is ERR and expected is ERR) or (type(actual) is int and actual == expected), text


@settings(max_examples=100, deadline=None)
@given(bool_exprs)
def test_boolean_logic_with_error_absorption_matches_reference(expr: tuple[str, Any]) -> None:
    text, expected = expr
    actual = run(text)
    assert actual is expected or (actual is ERR and expected is ERR), text


def cel_string(s: str) -> str:
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable() and ord(ch) < 0x10000:
            out.append(ch)
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


text_strategy = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=100, deadline=None)
@given(text_strategy, text_strategy)
def test_string_functions_match_python(a: str, b: str) -> None:
    A, B = cel_string(a), cel_string(b)
    assert evaluate_expression(f"{A} == {A}") is True
    assert evaluate_expression(f"{A}.contains({B})") is (b in a)
    assert evaluate_expression(f"{A}.startsWith({B})") is a.startswith(b)
    assert evaluate_expression(f"{A}.endsWith({B})") is a.endswith(b)
    assert evaluate_expression(f"size({A})") == len(a)
    assert evaluate_expression(f"{A} + {B}") == a + b
    assert evaluate_expression(f"{A} < {B}") is (a < b)
    assert evaluate_expression(f"{A}.indexOf({B})") == a.find(b)
    assert evaluate_expression(f"strings.quote({A}).size() >= 2") is True


quantity_text = st.builds(
    lambda n, suffix: f"{n}{suffix}",
    st.integers(min_value=-(10**6), max_value=10**6),
    st.sampled_from(["", "m", "k", "M", "G", "Ki", "Mi", "Gi", "Ti"]),
)


@settings(max_examples=100, deadline=None)
@given(quantity_text, quantity_text)
def test_quantity_comparisons_match_exact_values(a: str, b: str) -> None:
    x, y = Quantity(a).as_fraction(), Quantity(b).as_fraction()
    expected = (x > y) - (x < y)
    assert evaluate_expression(f'quantity("{a}").compareTo(quantity("{b}"))') == expected
    assert evaluate_expression(f'quantity("{a}").isGreaterThan(quantity("{b}"))') is (x > y)
    assert evaluate_expression(f'quantity("{a}").isLessThan(quantity("{b}"))') is (x < y)
    total = evaluate_expression(f'quantity("{a}").add(quantity("{b}"))')
    assert Fraction(total.as_fraction()) == x + y


identifiers = st.one_of(st.integers(min_value=0, max_value=30).map(str),
                        st.text(alphabet="abcxyz-", min_size=1, max_size=4).filter(lambda s: not s.isdigit()))
versions = st.builds(
    lambda core, pre: ".".join(map(str, core)) + ("-" + ".".join(pre) if pre else ""),
    st.tuples(*[st.integers(min_value=0, max_value=12)] * 3),
    st.lists(identifiers, max_size=3),
)


def semver_key(text: str) -> tuple:
    core, _, pre = text.partition("-")
    nums = tuple(int(p) for p in core.split("."))
    if not pre:
        return nums + (1,)
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return nums + (0, ids)


@settings(max_examples=80, deadline=None)
@given(versions, versions)
def test_semver_order_follows_semver_2(a: str, b: str) -> None:
    ka, kb = semver_key(a), semver_key(b)
    if ka[:3] != kb[:3] or ka[3] != kb[3]:
        expected = (ka > kb) - (ka < kb)
    elif ka[3] == 1:
        expected = 0
    else:
        # compare pre-release identifier lists (shorter prefix sorts first)
        expected = (ka[4] > kb[4]) - (ka[4] < kb[4])
    assert Semver(a).compare(Semver(b)) == expected
    assert evaluate_expression(f'semver("{a}").compareTo(semver("{b}"))') == expected
    assert str(Semver(a)) == a


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(min_value=-50, max_value=50), max_size=8), st.integers(min_value=-10, max_value=10))
def test_macros_match_python(xs: list[int], k: int) -> None:
    items = "[" + ", ".join(map(str, xs)) + "]"
    assert run(f"{items}.all(x, x > {k})") is all(x > k for x in xs)
    assert run(f"{items}.exists(x, x > {k})") is any(x > k for x in xs)
    assert run(f"{items}.exists_one(x, x > {k})") is (sum(x > k for x in xs) == 1)
    assert run(f"{items}.map(x, x * 2) == {[x * 2 for x in xs]}") is True
    assert run(f"{items}.filter(x, x % 2 == 0) == {[x for x in xs if x % 2 == 0]}") is True
    assert run(f"{items}.map(x, x > {k}, x - 1) == {[x - 1 for x in xs if x > k]}") is True
    assert run(f"{items}.all(i, v, v == {items}[i])") is True

    # Errors (division by zero) are absorbed when another element decides the result.
    def pred(x: int) -> Any:
        return ERR if x == 0 else _trunc_div(10, x) > k

    results = [pred(x) for x in xs]
    expected_all = False if False in results else (ERR if ERR in results else True)
    expected_exists = True if True in results else (ERR if ERR in results else False)
    assert run(f"{items}.all(x, 10 / x > {k})") is expected_all
    assert run(f"{items}.exists(x, 10 / x > {k})") is expected_exists
