"""Hypothesis strategies for DRA CEL selectors and the devices they run on.

Built for differential tests against upstream's ``k8s.io/dynamic-resource-allocation/cel``
(:mod:`dra.testing.cel_oracle`): the expressions stay close to what users write (attribute
and capacity lookups, comparisons, ``has``/``in``/``.?``, ``includes`` and macros on list
attributes, semver and quantity helpers, string functions) and mix in what only a checker
or a cost limit refuses (comparisons of an attribute with the wrong literal type, list/map
mixes, cost bombs). Every expression is a plain string; devices are in the oracle's JSON
shape (``{"driver", "allowMultipleAllocations", "attributes", "capacity"}``, wire-form
attribute values such as ``{"ints": [1, 2]}``).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

__all__ = ["DRIVER", "devices", "expressions", "cases"]

DRIVER = "dra.example.com"
OTHER = "other.example.com"

# name -> generator of wire-form values; names are fixed so that expressions can refer to them
_SCALAR_NAMES = {"model": "string", "cores": "int", "healthy": "bool", "fw": "version", "numa": "int"}
_LIST_NAMES = {"models": "strings", "numas": "ints", "flags": "bools", "fws": "versions"}
_WORDS = ("a100", "h100", "b200", "", "x", "Hello World", "über")
_VERSIONS = ("1.0.0", "1.2.3", "2.0.0-rc.1", "10.0.0", "1.2.3+build")
_QUANTITIES = ("0", "1", "1Gi", "80Gi", "500m", "1.5", "40G", "1e3")


def _value(kind: str) -> st.SearchStrategy[Any]:
    if kind in ("int", "ints"):
        base: st.SearchStrategy[Any] = st.integers(-3, 130) | st.sampled_from([-(2**63), 2**63 - 1])
    elif kind in ("bool", "bools"):
        base = st.booleans()
    elif kind in ("string", "strings"):
        base = st.sampled_from(_WORDS)
    else:
        base = st.sampled_from(_VERSIONS)
    if kind in ("ints", "bools", "strings", "versions"):
        return st.lists(base, min_size=1, max_size=4)
    return base


@st.composite
def devices(draw: st.DrawFn, *, lists: bool = False, multi: bool = True) -> dict[str, Any]:
    """A device in the oracle's JSON shape."""
    attributes: dict[str, Any] = {}
    for name, kind in _SCALAR_NAMES.items():
        if draw(st.booleans()):
            attributes[name] = {kind: draw(_value(kind))}
    if draw(st.booleans()):
        attributes[f"{OTHER}/zone"] = {"string": draw(st.sampled_from(_WORDS))}
    if lists:
        for name, kind in _LIST_NAMES.items():
            if draw(st.booleans()):
                attributes[name] = {kind: draw(_value(kind))}
    capacity: dict[str, Any] = {}
    for name in ("memory", "cores"):
        if draw(st.booleans()):
            capacity[name] = {"value": draw(st.sampled_from(_QUANTITIES))}
    device: dict[str, Any] = {"driver": DRIVER}
    if multi and draw(st.booleans()):
        device["allowMultipleAllocations"] = draw(st.booleans())
    if attributes:
        device["attributes"] = attributes
    if capacity:
        device["capacity"] = capacity
    return device


def _q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


ATTR = f'device.attributes["{DRIVER}"]'
CAP = f'device.capacity["{DRIVER}"]'


def _attr(name: str) -> str:
    return f"{ATTR}.{name}"


@st.composite
def _literal(draw: st.DrawFn) -> str:
    return draw(
        st.sampled_from(["1", "0", "-1", "1u", "1.5", "true", "false", "null", '""', '"a100"', '"h100"', "[]", "[1, 2]",
                         '["a100", "x"]', "{}", '{"a": 1}', "b\"x\"", "dyn(1)", "dyn(\"a100\")"])
    )


_SCALAR_REFS = [_attr(n) for n in _SCALAR_NAMES] + [f'device.attributes["{OTHER}"].zone', _attr("missing")]
_LIST_REFS = [_attr(n) for n in _LIST_NAMES]


@st.composite
def _atom(draw: st.DrawFn, lists: bool) -> str:
    refs = _SCALAR_REFS + (_LIST_REFS if lists else [])
    choice = draw(st.integers(0, 9))
    if choice <= 3:
        return draw(st.sampled_from(refs))
    if choice == 4:
        return draw(st.sampled_from([f"{CAP}.memory", f"{CAP}.cores", f'device.capacity["{OTHER}"].x']))
    if choice == 5:
        return draw(st.sampled_from(["device.driver", "device.allowMultipleAllocations"]))
    return draw(_literal())


_COMPARE = ["==", "!=", "<", "<=", ">", ">=", "in"]


@st.composite
def _bool_expr(draw: st.DrawFn, lists: bool, depth: int) -> str:
    choice = draw(st.integers(0, 17 if depth > 0 else 11))
    refs = _SCALAR_REFS + (_LIST_REFS if lists else [])
    ref = draw(st.sampled_from(refs))
    if choice == 0:
        return f"{draw(_atom(lists))} {draw(st.sampled_from(_COMPARE))} {draw(_atom(lists))}"
    if choice == 1:
        name = draw(st.sampled_from(list(_SCALAR_NAMES) + list(_LIST_NAMES) + ["missing"]))
        return draw(st.sampled_from([f"has({ATTR}.{name})", f'"{name}" in {ATTR}', f"{ATTR}.?{name}.hasValue()"]))
    if choice == 2:
        lit = draw(st.sampled_from(['"a100"', "1", "true", 'semver("1.2.3")', "[1]", '"x"']))
        return f"{ref}.includes({lit})"
    if choice == 3:
        var = draw(st.sampled_from(["x", "m"]))
        body = draw(st.sampled_from([f"{var} == 1", f'{var} == "a100"', f"{var} > 0", f"size({var}) > 1", "true", f"{var}"]))
        macro = draw(st.sampled_from(["exists", "all", "exists_one"]))
        return f"{ref}.{macro}({var}, {body})"
    if choice == 4:
        return draw(st.sampled_from([
            f'{_attr("fw")}.isGreaterThan(semver("1.0.0"))', f'semver("1.2.3").compareTo({_attr("fw")}) == 0',
            f'{_attr("fw")}.major() == 1', f'isSemver({_attr("model")})', f'{_attr("fws")}.exists(v, v.major() > 1)',
            f'{_attr("model")}.isGreaterThan(semver("1.0.0"))',
        ]))
    if choice == 5:
        return draw(st.sampled_from([
            f'{CAP}.memory.compareTo(quantity("40Gi")) >= 0', f'{CAP}.memory.isGreaterThan(quantity("1"))',
            f'{CAP}.memory == quantity("1Gi")', f'{CAP}.memory.asInteger() > 0', f'{CAP}.memory.sign() == 1',
            f'{CAP}.memory.add(quantity("1")).isLessThan(quantity("2Gi"))', f'{CAP}.memory > quantity("1")',
        ]))
    if choice == 6:
        return draw(st.sampled_from([
            f'{_attr("model")}.startsWith("a")', f'{_attr("model")}.matches("^[ab]")', f'{_attr("model")}.lowerAscii() == "a100"',
            f'size({_attr("model")}) > 2', f'{_attr("model")}.contains("1")', f'{_attr("model")}.indexOf("0") >= 0',
            f'{_attr("model")}.split("0").size() > 1', f'{_attr("model")} + "x" == "a100x"',
        ]))
    if choice == 7:
        return draw(st.sampled_from([
            f'{ATTR}.?model.orValue("none") == "none"', f'{ATTR}[?"model"].hasValue()', f'{ATTR}.?numas.orValue([]).size() > 0',
            f'{ATTR}.?cores.orValue(0) > 2', f'device.attributes[?"{OTHER}"].hasValue()',
        ]))
    if choice == 8:
        return draw(st.sampled_from([
            f'cel.bind(a, {ATTR}, a.model == "a100" || a.cores > 2)', f"cel.bind(n, {_attr('numa')}, n == 0 || n == 1)",
            f"{_attr('cores')} + 1 > 2", f"{_attr('cores')} * 2 == 4", f"int({_attr('cores')}) > 0", f"{_attr('cores')} / 0 == 1",
            f"size({ref}) >= 0", f"type({ref}) == int", f"string({_attr('cores')}) == \"1\"",
        ]))
    if choice == 9:
        return draw(st.sampled_from([
            f'{ref} == {ref}', f'{ref} in [1, 2, 3]', f'{ref} in ["a100", "h100"]', f'[{ref}] == [1]', f'{{"k": {ref}}}["k"] == 1',
            f'{ref} == [1]', f'{ref}[0] == 1', f'{ref}.size() == 1', f'{ref} + [1] == [1]', f'{ref} in {{"a100": 1}}',
        ]))
    if choice == 10:
        reps = draw(st.integers(1, 9))
        expr = '""'
        for _ in range(reps):
            expr = f'{expr}.replace("", "0123456789")'
        return f'{expr} == ""' if draw(st.booleans()) else f"size({expr}) > 0"
    if choice == 11:
        return draw(st.sampled_from([
            f'{ref}.all(x, {ref}.all(y, {ref}.all(z, true)))', '[1, 2, 3].map(x, x * 2).exists(y, y == 4)',
            '[1, 2].filter(x, x > 1).size() == 1', '"abc".charAt(1) == "b"', 'sets.contains([1, 2], [1])',
            'lists.range(3).size() == 3' , '[1, 2].sum() == 3', '"a,b".split(",").join("-") == "a-b"',
            f'{ref}.sort() == [1]', f'{ref}.max() == 1', f'{ref}.indexOf(1) == 0', f'{ref}.reverse() == [1]',
            f'{ref}.isSorted()', f'{ref}.distinct().size() == 1',
        ]))
    # combinations
    left = draw(_bool_expr(lists, depth - 1))
    if choice <= 13:
        return f"{left} {draw(st.sampled_from(['&&', '||']))} {draw(_bool_expr(lists, depth - 1))}"
    if choice == 14:
        return f"!({left})"
    if choice == 15:
        return f"({left}) ? {draw(_bool_expr(lists, depth - 1))} : {draw(_bool_expr(lists, depth - 1))}"
    if choice == 16:
        return f"({left}) == ({draw(_bool_expr(lists, depth - 1))})"
    return f"{ref}"  # an attribute as the whole result (bool attribute, or the wrong type)


def expressions(*, lists: bool = False) -> st.SearchStrategy[str]:
    """A selector-like expression (usually well typed, sometimes not)."""
    return _bool_expr(lists, 2)


@st.composite
def cases(draw: st.DrawFn, *, minor: str) -> dict[str, Any]:
    """One differential case: features for ``minor``, an expression and a device."""
    newer = tuple(int(x) for x in minor.split(".")) >= (1, 36)
    features = {"consumableCapacity": draw(st.booleans()), "listTypeAttributes": newer and draw(st.booleans())}
    lists = features["listTypeAttributes"] or (newer and draw(st.booleans()))
    return {
        "expression": draw(expressions(lists=lists)),
        "device": draw(devices(lists=lists)),
        "features": features,
    }
