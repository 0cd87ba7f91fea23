"""1.37 derived attributes (DRADerivedAttributes): dra.cel against upstream's CEL library.

Each expression is compiled as a derived attribute in both environments (stored, as the
allocator does; new, as API validation does) and evaluated on a few devices, here and by
the Go CEL oracle (``upstream/cel`` with ``derived``): the same compile verdict, the same
estimated cost, the same attribute (or an evaluation error on both sides). Without Go only
the Python half runs (fixed expectations below).
"""

from __future__ import annotations

from typing import Any

import pytest

from dra.api import DeviceAttribute, Quantity
from dra.cel import CelCompileError, CelDevice, CelRuntimeError
from dra.cel.derived import compile_derived, derived_attribute
from dra.cel.selector import Selector
from dra.testing import cel_oracle
from dra.versions import KubernetesVersion, gates_of

D = "gpu.example.com"
DEVICES: list[dict[str, Any]] = [
    {"driver": D, "attributes": {"numa": {"int": 1}, "model": {"string": "h100"}, "v": {"version": "1.2.0"},
                                 "nn": {"ints": [1, 2]}, "links": {"strings": ["l0"]}},
     "capacity": {"memory": {"value": "40Gi"}}},
    {"driver": D, "attributes": {"numa": {"int": 0}, "model": {"string": "a100"}, "v": {"version": "1.0.0"},
                                 "nn": {"ints": [0]}, "links": {"strings": ["l1", "l2"]}},
     "capacity": {"memory": {"value": "20Gi"}}},
]
EXPRESSIONS = [
    f'device.attributes["{D}"].numa',
    f'device.attributes["{D}"].model',
    f'device.attributes["{D}"].v',
    f'device.attributes["{D}"].nn',
    f'device.attributes["{D}"].links.map(l, l + "x")',
    f'[device.attributes["{D}"].numa, dyn(5)]',
    f'[device.attributes["{D}"].numa, 5]',  # homogeneous literal: dyn vs int
    f'device.attributes["{D}"].model == "h100"',
    f'device.capacity["{D}"].memory.compareTo(quantity("30Gi")) >= 0',
    f'device.attributes["{D}"].numa == 0 ? "even" : "odd"',
    f'device.attributes["{D}"].nosuch',
    "[]", "[1, 2]", "1.5", '{"a": 1}', "dyn(1.5)", '[dyn(1), dyn("a")]', 'semver("1.2.3")',
    f'device.attributes["{D}"].nn.filter(x, x > 0)',
]
VERSION = KubernetesVersion(minor="1.37", gates={g: True for g in gates_of("1.37")})


def _device(d: dict[str, Any]) -> CelDevice:
    return CelDevice.from_parts(
        d["driver"], {k: DeviceAttribute.model_validate(v) for k, v in d["attributes"].items()},
        {k: Quantity(v["value"]) for k, v in d["capacity"].items()})


def _as_json(value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field, wire in (("int_", "int"), ("bool_", "bool"), ("string", "string"), ("version", "version"),
                        ("ints", "ints"), ("bools", "bools"), ("strings", "strings"), ("versions", "versions")):
        v = getattr(value, field)
        if v is not None and v != []:  # Go's omitempty drops empty lists
            out[wire] = list(v) if isinstance(v, list) else v
    return out


def ours(expression: str, device: dict[str, Any], *, stored: bool) -> dict[str, Any]:
    try:
        sel = (compile_derived(expression, VERSION) if stored
               else Selector(expression, "new", True, derived=True, version=VERSION))
    except CelCompileError as err:
        return {"compileError": str(err)}
    answer: dict[str, Any] = {"maxCost": sel.estimated_max_cost}
    try:
        answer["attribute"] = _as_json(derived_attribute(sel, _device(device)))
    except CelRuntimeError as err:
        answer["evalError"] = str(err)
    return answer


def test_scalars_lists_and_errors() -> None:
    dev = DEVICES[0]
    assert ours(EXPRESSIONS[0], dev, stored=True)["attribute"] == {"int": 1}
    assert ours(EXPRESSIONS[2], dev, stored=True)["attribute"] == {"version": "1.2.0"}
    assert ours(EXPRESSIONS[5], dev, stored=True)["attribute"] == {"ints": [1, 5]}
    assert "compileError" in ours(EXPRESSIONS[6], dev, stored=True)
    assert "compileError" in ours("1.5", dev, stored=True)
    assert "unsupported CEL return type" in ours("dyn(1.5)", dev, stored=True)["evalError"]
    assert "index 1 to be int" in ours('[dyn(1), dyn("a")]', dev, stored=True)["evalError"]
    assert "no such key" in ours(EXPRESSIONS[10], dev, stored=True)["evalError"]


def test_new_expressions_reject_lists_without_the_gate() -> None:
    off = KubernetesVersion(minor="1.37", gates={"DRADerivedAttributes": True})
    with pytest.raises(CelCompileError, match="primitive scalar .*, not list"):
        Selector("[1, 2]", "new", True, derived=True, version=off)
    Selector("[1, 2]", "stored", True, derived=True, version=off)  # stored: lists always


def test_validation_compiles_derived_attributes_and_limits_their_cost() -> None:
    from dra.api import ResourceClaim
    from dra.api.validation import validate
    from dra.cel.validation import make_cel_check

    def claim(expressions: list[str]) -> ResourceClaim:
        attrs = [{"name": f"derived/a{i}", "expression": e} for i, e in enumerate(expressions)]
        return ResourceClaim.from_dict({
            "apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim", "metadata": {"name": "c", "namespace": "d"},
            "spec": {"devices": {"requests": [{"name": "r", "exactly": {"deviceClassName": "gpu", "derivedAttributes": attrs}}],
                                 "constraints": [{"matchAttribute": a["name"]} for a in attrs]}}})

    check = make_cel_check(version=VERSION)
    assert not validate(claim([EXPRESSIONS[0]]), k8s_version=VERSION, cel_check=check)
    errs = [str(e) for e in validate(claim(["1.5"]), k8s_version=VERSION, cel_check=check)]
    assert any("derivedAttributes[0].expression" in e and "primitive scalar" in e for e in errs), errs
    # each under the limit, together over it
    costly = f'device.attributes["{D}"].links.map(l, l + "x").size() > 0 ? 1 : 0'
    cost = Selector(costly, "new", True, derived=True, version=VERSION).estimated_max_cost
    n = 1_000_000 // cost + 1
    if n <= 8:
        errs = [str(e) for e in validate(claim([costly] * n), k8s_version=VERSION, cel_check=check)]
        assert any("total cost of derived attribute" in e for e in errs), errs


@pytest.mark.skipif(cel_oracle.skip_reason() is not None, reason=cel_oracle.skip_reason() or "")
def test_derived_attributes_agree_with_upstream() -> None:
    requests, keys = [], []
    for expression in EXPRESSIONS:
        for stored in (True, False):
            for dev in DEVICES:
                req = cel_oracle.request(expression, device=dev, stored=stored, consumable_capacity=True,
                                         list_type_attributes=True)
                req["derived"] = True
                requests.append(req)
                keys.append((expression, stored, dev))
    with cel_oracle.CelOracle("1.37") as oracle:
        answers = oracle.ask_many(requests)
    problems = []
    for (expression, stored, dev), theirs in zip(keys, answers):
        mine = ours(expression, dev, stored=stored)
        if ("compileError" in mine) != ("compileError" in theirs):
            problems.append(f"{expression} stored={stored}: compile ours={mine} upstream={theirs}")
            continue
        if "compileError" in mine:
            continue
        if mine["maxCost"] != theirs.get("maxCost"):
            problems.append(f"{expression} stored={stored}: maxCost ours={mine['maxCost']} upstream={theirs.get('maxCost')}")
        if ("evalError" in mine) != ("evalError" in theirs) or mine.get("attribute") != theirs.get("attribute", None if "evalError" in theirs else {}):
            problems.append(f"{expression} stored={stored} {dev['attributes']['numa']}: ours={mine} upstream={theirs}")
    assert not problems, "\n".join(problems)
