"""CEL semantics of the DRA environment, case by case (values, errors, libraries)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from dra.api.quantity import Quantity
from dra.cel import CelDevice, CelRuntimeError, Semver
from dra.cel.selector import evaluate_expression
from dra.cel.values import UInt

DEVICE = CelDevice.from_parts(
    "gpu.nvidia.com",
    {
        "type": {"string": "gpu"},
        "index": {"int": 3},
        "ok": {"bool": True},
        "driverVersion": {"version": "550.54.15"},
        "resource.kubernetes.io/pcieRoot": {"string": "pci0000:00"},
    },
    {"memory": {"value": "80Gi"}},
)


def ev(expr: str) -> Any:
    return evaluate_expression(expr, DEVICE)


def same(a: Any, b: Any) -> bool:
    """Equal and of the same Python type (1 vs 1.0 vs True vs 1u differ)."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return type(a) is type(b) and a == b


VALUES = [
    # arithmetic, int64/uint64, double
    ("1 + 2 * 3", 7), ("7 / 2", 3), ("-7 / 2", -3), ("-7 % 3", -1), ("7 % -3", 1),
    ("-9223372036854775808", -(2**63)), ("9223372036854775807", 2**63 - 1),
    ("18446744073709551615u", UInt(2**64 - 1)), ("3u / 2u", UInt(1)), ("0x1F", 31),
    ("1.0 / 0.0", math.inf), ("-1.0 / 0.0", -math.inf), ("0.5 + 0.25", 0.75), (".5", 0.5), ("1e3", 1000.0),
    # strings, bytes, escapes
    ('"a" + "b"', "ab"), ('b"a" + b"b"', b"ab"), (r'"\u00e9"', "é"), (r'b"\x41\101"', b"AA"),
    (r'r"\n"', "\\n"), ("'''a\nb'''", "a\nb"), (r'"\t\"\\"', '\t"\\'),
    # heterogeneous equality and cross-type numeric comparison
    ("dyn(1) == 1.0", True), ("dyn(1) == 1u", True), ("dyn(1u) == 1.0", True), ("1u < 2.5", True), ("2.0 > 1", True), ("null == null", True),
    ("dyn(null) == 1", False), ("dyn(1) == dyn('1')", False), ("dyn(true) == dyn(1)", False),
    ('{"a": 1} == dyn({"a": 1.0})', True), ("[1, 2] == [1, 2]", True), ("[1] == [1, 2]", False),
    ('[dyn(1), dyn("a")] == [dyn(1), dyn("a")]', True), ("double('NaN') == double('NaN')", False),
    # logical operators absorb errors from either side
    ("true || 1 / 0 == 1", True), ("1 / 0 == 1 || true", True),
    ("false && 1 / 0 == 1", False), ("1 / 0 == 1 && false", False),
    ("1 / 0 == 1 || false || true", True), ("true && 1 / 0 == 1 && false", False),
    ("true || false || false", True), ("true && true && true", True), ("false || false || false", False),
    ("true ? 1 : 2", 1), ("false ? 1 : 2", 2), ("true ? 'a' : string(1 / 0)", "a"),
    # in, has, size
    ("2 in [1, 2]", True), ('"a" in {"a": 1}', True), ('"b" in {"a": 1}', False), ("3 in [1, 2]", False),
    ('has({"a": 1}.a)', True), ('has({"a": 1}.b)', False), ("has(device.attributes)", True),
    ('size("héllo")', 5), ('"abc".size()', 3), ("size([1, 2])", 2), ('size({"a": 1})', 1), ('size(b"ab")', 2),
    # conversions
    ('int("12")', 12), ('int("-12")', -12), ("int(2.9)", 2), ("int(-2.9)", -2), ("int(3u)", 3),
    ("uint(3)", UInt(3)), ("uint(3.5)", UInt(3)), ('uint("7")', UInt(7)), ('double("1.5")', 1.5), ("double(3)", 3.0),
    ("string(1.5)", "1.5"), ("string(100.0)", "100"), ("string(1e21)", "1e+21"), ("string(1e6)", "1e+06"),
    ("string(123456.0)", "123456"), ("string(123456789012.0)", "1.23456789012e+11"), ("string(1.5e-5)", "1.5e-05"),
    ("string(0.0001)", "0.0001"), ("string(-0.0)", "-0"), ("string(-3)", "-3"),
    ("string(7u)", "7"), ("string(true)", "true"), ('string(b"abc")', "abc"), ('bool("true")', True),
    ('bool("F")', False), ('bytes("ab")', b"ab"), ("dyn(1)", 1),
    ("type(1) == int", True), ('type("a") == string', True), ("type(1u) == uint", True),
    ("type([]) == list", True), ("type({}) == map", True), ("type(null) == null_type", True),
    ("type(int) == type", True), ("type(1) == type(2)", True), ("type(1) == type(1.0)", False),
    # string predicates and regex (RE2)
    ('"abc".startsWith("ab")', True), ('"abc".endsWith("bc")', True), ('"abc".contains("b")', True),
    ('"abc".matches("^a.c$")', True), ('matches("abc", "x")', False), ('"hello world".find("o w")', "o w"),
    ('"abc".find("x")', ""), ('"a1b22c333".findAll("[0-9]+")', ["1", "22", "333"]),
    ('"a1b22c333".findAll("[0-9]+", 2)', ["1", "22"]), ('"a1".findAll("[0-9]", 0)', []),
    # ext.strings v2
    ('"abc".charAt(1)', "b"), ('"abc".charAt(3)', ""), ('"hello".indexOf("l")', 2), ('"hello".indexOf("")', 0),
    ('"hello".indexOf("l", 3)', 3), ('"hello".lastIndexOf("l")', 3), ('"hello".lastIndexOf("l", 2)', 2),
    ('"héllo".indexOf("l")', 2), ('"TacoCat".lowerAscii()', "tacocat"), ('"TacoCÆt".upperAscii()', "TACOCÆT"),
    ('"aaa".replace("a", "b")', "bbb"), ('"aaa".replace("a", "b", 2)', "bba"), ('"aaa".replace("a", "b", 0)', "aaa"),
    ('"a,b,c".split(",")', ["a", "b", "c"]), ('"a,b,c".split(",", 2)', ["a", "b,c"]), ('"a,b".split(",", 0)', []),
    ('"abc".split("")', ["a", "b", "c"]), ('"tacocat".substring(4)', "cat"), ('"tacocat".substring(1, 3)', "ac"),
    ('"  \\ttrim\\n ".trim()', "trim"), ('["a", "b"].join()', "ab"), ('["a", "b"].join("-")', "a-b"),
    ('strings.quote("a\\"b\\n")', '"a\\"b\\n"'),
    ('"%s is %d, %.2f".format(["x", 3, 1.5])', "x is 3, 1.50"), ('"%x %X %o %b %%".format([255, 255, 8, 5])', "ff FF 10 101 %"),
    # Kubernetes lists library and ext.lists / ext.sets
    ("[1, 2, 3].isSorted()", True), ("[3, 1].isSorted()", False), ("[1, 2, 3].sum()", 6), ("[1.5, 2.5].sum()", 4.0),
    ("[3, 1, 2].min()", 1), ("[3, 1, 2].max()", 3), ('["b", "a"].min()', "a"), ("[1, 2, 1].indexOf(1)", 0),
    ("[1, 2, 1].lastIndexOf(1)", 2), ("[1, 2].indexOf(5)", -1), ("lists.range(3)", [0, 1, 2]),
    ("[1, 1, 2].distinct()", [1, 2]), ("[dyn([1]), dyn([dyn(2), dyn([3])])].flatten()", [1, 2, [3]]),
    ("[1, 2, 3].reverse()", [3, 2, 1]), ("[1, 2, 3, 4].slice(1, 3)", [2, 3]), ("[3, 1, 2].sort()", [1, 2, 3]),
    ("[1, 2].first().value()", 1), ("[].last().hasValue()", False),
    ("sets.contains([1, 2, 3], [1, 2])", True), ("sets.contains([1], [1, 2])", False),
    ("sets.equivalent([1, 2], [2, 1, 1])", True), ("sets.intersects([1], [2])", False), ("sets.intersects([1, 2], [2])", True),
    # quantity library
    ('quantity("1Gi").isGreaterThan(quantity("1000Mi"))', True), ('quantity("1Gi").isLessThan(quantity("1G"))', False),
    ('quantity("1Gi").compareTo(quantity("1024Mi"))', 0), ('quantity("1").compareTo(quantity("2"))', -1),
    ('quantity("1.5").asApproximateFloat()', 1.5), ('quantity("1k").asInteger()', 1000),
    ('quantity("1.5").isInteger()', False), ('quantity("2k").isInteger()', True),
    ('quantity("1Gi").add(quantity("1Gi")) == quantity("2Gi")', True), ('quantity("1Gi").sub(1).asInteger()', 2**30 - 1),
    ('quantity("5").add(2).asInteger()', 7), ('sign(quantity("-1"))', -1), ('sign(quantity("0"))', 0),
    ('isQuantity("1Gi")', True), ('isQuantity("1 Gi")', False), ('quantity("1Gi") == quantity("1024Mi")', True),
    # semver library
    ('semver("1.2.3").major()', 1), ('semver("1.2.3").minor()', 2), ('semver("1.2.3").patch()', 3),
    ('semver("1.0.0-alpha").isLessThan(semver("1.0.0"))', True),
    ('semver("1.0.0-alpha.1").compareTo(semver("1.0.0-alpha.beta"))', -1),
    ('semver("1.0.0+build1") == semver("1.0.0+build2")', True),
    ('semver("v1.0", true) == semver("1.0.0")', True), ('semver("01.01.01", true) == semver("1.1.1")', True),
    ('isSemver("1.0.0")', True), ('isSemver("v1.0")', False), ('isSemver("v1.0", true)', True),
    ('isSemver("1.0-rc1", true)', False),
    # macros
    ("[1, 2, 3].all(x, x > 0)", True), ("[1, 0].exists(x, 1 / x > 0)", True), ("[0, 1].exists(x, 1 / x > 0)", True),
    ("[0, 1].all(x, 1 / x > 5)", False), ("[1, 2, 3].exists_one(x, x > 2)", True), ("[1, 2, 3].exists_one(x, x > 1)", False),
    ("[1, 2, 3].map(x, x * 2)", [2, 4, 6]), ("[1, 2, 3].map(x, x > 1, x * 2)", [4, 6]),
    ("[1, 2, 3].filter(x, x > 1)", [2, 3]), ('{"a": 1, "b": 2}.map(k, k)', ["a", "b"]),
    ("[10, 20].all(i, v, v > i)", True), ("[10, 20].exists(i, v, i == 1 && v == 20)", True),
    ("[1, 2, 3].existsOne(i, v, v == 2)", True), ("[1, 2].transformList(i, v, i + v)", [1, 3]),
    ("[1, 2, 3].transformList(i, v, v > 1, v)", [2, 3]),
    ('{"a": 1}.transformMap(k, v, v + 1) == {"a": 2}', True), ('{"a": 1}.transformMapEntry(k, v, {v: k}) == {1: "a"}', True),
    ("cel.bind(x, 2, x * x)", 4), ("cel.bind(x, [1, 2], x.map(y, cel.bind(x, y * 10, x)))", [10, 20]),
    ("[1, 2].all(x, [3].all(x, x == 3))", True),
    ('["bb", "a", "ccc"].sortBy(s, s.size())', ["a", "bb", "ccc"]), ("[3, 1, 2].sortBy(x, -x)", [3, 2, 1]),
    # optional syntax and values
    ('{"a": 1}[?"b"].hasValue()', False), ('{"a": 1}.?a.value()', 1), ("[1, 2][?5].orValue(0)", 0),
    ("optional.of(1).value()", 1), ("optional.none().or(optional.of(2)).value()", 2),
    ("optional.ofNonZeroValue(0).hasValue()", False), ("optional.of(2).optMap(x, x * 2).value()", 4),
    ('{"a": {"b": 1}}.?a.b.orValue(0)', 1), ('{"a": {"b": 1}}.?x.b.orValue(0)', 0),
    ("[1, ?optional.of(2), ?optional.none(), 3,]", [1, 2, 3]), ("[[1], []].size()", 2),
    ("{'a': [1], 'b': []}.filter(k, {'a': [1], 'b': []}[k].size() > 0)", ["a"]), ('[?{"a": 1}.?a, ?{"a": 1}.?b]', [1]),
    ('{"a": 1, ?"b": optional.none(), ?"c": optional.of(3),} == {"a": 1, "c": 3}', True),
    # the device variable
    ('device.attributes["gpu.nvidia.com"].type', "gpu"), ('device.attributes["resource.kubernetes.io"].pcieRoot', "pci0000:00"),
    ('device.attributes["gpu.nvidia.com"].index + 1', 4), ('device.attributes["gpu.nvidia.com"]["ok"]', True),
    ('device.attributes["gpu.nvidia.com"].driverVersion == semver("550.54.15")', True),
    ('device.capacity["gpu.nvidia.com"].memory == quantity("80Gi")', True),
    ('device.capacity["gpu.nvidia.com"].memory.compareTo(quantity("40Gi")) >= 0', True),
    ('device.attributes["other.example.com"].size()', 0), ('"x" in device.attributes["nope"]', False),
    ('"gpu.nvidia.com" in device.attributes', True), ("device.allowMultipleAllocations", False),
    ('device.attributes["gpu.nvidia.com"].?missing.orValue(5)', 5), ("device.driver", "gpu.nvidia.com"),
    ("device.attributes.size()", 2), ('has(device.attributes["gpu.nvidia.com"].type)', True),
    ('has(device.attributes["gpu.nvidia.com"].nope)', False),
    ('device.attributes.exists(d, d == "resource.kubernetes.io")', True),
    ("type(device.capacity['gpu.nvidia.com'].memory) == type(quantity('1'))", True),
]


@pytest.mark.parametrize(("expr", "expected"), VALUES, ids=[e for e, _ in VALUES])
def test_value(expr: str, expected: Any) -> None:
    assert same(ev(expr), expected)


ERRORS = [
    ("9223372036854775807 + 1", "integer overflow"), ("-9223372036854775808 - 1", "integer overflow"),
    ("-(-9223372036854775808)", "integer overflow"), ("-9223372036854775808 / -1", "integer overflow"),
    ("-9223372036854775808 % -1", "integer overflow"), ("4611686018427387904 * 2", "integer overflow"),
    ("18446744073709551615u + 1u", "unsigned integer overflow"), ("0u - 1u", "unsigned integer overflow"),
    ("1 / 0", "division by zero"), ("1 % 0", "modulus by zero"), ("int(1e30)", "integer overflow"),
    ("uint(-1)", "unsigned integer overflow"), ("int(18446744073709551615u)", "integer overflow"),
    ('int("1.5")', "cannot convert"), ('bool("yes")', "type conversion error"),
    ("1 / 0 == 1 || false", "division by zero"), ("true && 1 / 0 == 1", "division by zero"),
    ("false || 1 / 0 == 1 || false", "division by zero"), ("true && dyn(1) && true", "no such overload"),
    ("[1, 0].all(x, 1 / x > 0)", "division by zero"), ("[1, 0].exists_one(x, 1 / x > 0)", "division by zero"),
    ('device.attributes["gpu.nvidia.com"].missing', "no such key: missing"),
    ('device.attributes["no-such-domain"].noSuchAttr', "no such key: noSuchAttr"),
    ('{"a": 1}["b"]', "no such key: b"), ("[1, 2][2]", "index out of bounds: 2"), ("[1, 2][-1]", "index out of bounds"),
    ('"abc".charAt(4)', "index out of range: 4"), ('"tacocat".substring(3, 1)', "invalid substring range"),
    ('"abc".indexOf("a", 9)', "index out of range"), ("[].min()", "must not be empty"),
    ('quantity("bad")', "quantities must match"), ('quantity("1.5").asInteger()', "cannot convert value to integer"),
    ('semver("v1.0")', "no major, minor and patch"), ('semver("1.0.01")', "leading zeroes"),
    ("optional.none().value()", "optional.none() dereference"), ("dyn(1) + dyn(1.0) == 2.0", "no such overload"),
    ("dyn('a') < dyn(1)", "no such overload"), ('dyn("a").contains(dyn(1))', "no such overload"),
    ("dyn(1) || true == false", "no such overload"), ("dyn(1) ? 1 : 2", "no such overload"),
    ('{"a": 1}.transformMapEntry(k, v, {"x": v}) == {}', ""), ('[1, 2].transformMapEntry(k, v, {"x": v})', "already exists"),
    ('dyn("abc").foo', "does not support field selection"), ("[1, 2].sortBy(x, x == 1 ? dyn('a') : dyn(1))", "one comparable type"), ("[1, 1].exists_one(x, dyn(x))", "no such overload"),
]


@pytest.mark.parametrize(("expr", "message"), [e for e in ERRORS if e[1]], ids=[e for e, m in ERRORS if m])
def test_runtime_error(expr: str, message: str) -> None:
    with pytest.raises(CelRuntimeError) as info:
        ev(expr)
    assert message in str(info.value)


def test_error_on_one_side_is_not_hidden_by_a_non_deciding_side() -> None:
    # err || false and false || err both stay errors; err && true too.
    for expr in ("1 / 0 == 1 || false", "false || 1 / 0 == 1", "1 / 0 == 1 && true"):
        with pytest.raises(CelRuntimeError, match="division by zero"):
            ev(expr)


def test_values_are_python_objects() -> None:
    assert isinstance(ev('quantity("40Gi")'), Quantity)
    assert ev('semver("1.2.3-rc.1")') == Semver("1.2.3-rc.1")
    assert ev('device.capacity["gpu.nvidia.com"].memory') == Quantity("80Gi")


def test_regex_is_re2() -> None:
    # RE2 has no backreferences; a constant pattern is rejected when compiling.
    from dra.cel import CelCompileError

    with pytest.raises(CelCompileError, match="error parsing regexp"):
        ev(r'"aa".matches("(a)\\1")')
    with pytest.raises(CelRuntimeError, match="error parsing regexp"):
        evaluate_expression('"aa".matches(device.attributes["gpu.nvidia.com"].type + "(")', DEVICE)
