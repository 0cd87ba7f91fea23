"""The versioned DRA CEL environments of 1.34-1.37 (answers checked against upstream's
``k8s.io/dynamic-resource-allocation/cel``; see tests/test_oracle_cel.py for the oracle)."""

from __future__ import annotations

import pickle

import pytest

from dra.api import DeviceAttribute
from dra.cel import CelCompileError, CelDevice, CelRuntimeError, compile_selector
from dra.cel.env import environment
from dra.versions import KubernetesVersion

DRIVER = "gpu.example.com"
A = f'device.attributes["{DRIVER}"]'
LISTS = {"DRAListTypeAttributes": True}


def device(**attrs: object) -> CelDevice:
    return CelDevice.from_parts(DRIVER, {k: DeviceAttribute.from_dict(v) for k, v in attrs.items()})


def test_environment_table() -> None:
    e = environment("new", version="1.35")
    assert (e.dyn_attributes, e.includes, e.reads_lists, e.error_hint) == (False, False, False, False)
    e = environment("new", version=KubernetesVersion.of("1.36", LISTS))
    assert (e.dyn_attributes, e.includes, e.reads_lists, e.includes_limit) == (True, True, True, 48)
    e = environment("stored", version="1.36")
    assert (e.dyn_attributes, e.includes, e.reads_lists) == (False, True, False)
    e = environment("stored", version="1.37")  # the 1.37 skew rule: stored sees every declaration
    assert (e.dyn_attributes, e.includes, e.reads_lists, e.error_hint) == (True, True, True, True)
    e = environment("new", version="1.37")
    assert (e.dyn_attributes, e.includes, e.allow_multiple_allocations_field) == (False, False, True)
    assert not environment("new", version=KubernetesVersion.of("1.37", {"DRAConsumableCapacity": False})).allow_multiple_allocations_field


def test_includes_needs_the_gate_in_new_expressions() -> None:
    expr = f"{A}.numas.includes(1)"
    with pytest.raises(CelCompileError, match=r"1:52: undeclared reference to 'includes'"):
        compile_selector(expr, env_type="new", version="1.37")
    sel = compile_selector(expr, env_type="new", version=KubernetesVersion.of("1.37", LISTS))
    assert sel.matches(device(numas={"ints": [0, 1]}))
    assert not sel.matches(device(numas={"ints": [2]}))
    assert compile_selector(f'{A}.model.includes("a")', version="1.37").matches(device(model={"string": "a"}))


def test_list_attributes_are_lists_and_macros_work() -> None:
    kv = KubernetesVersion.of("1.36", LISTS)
    dev = device(fws={"versions": ["1.0.0", "10.0.0"]}, models={"strings": ["a100", "h100"]})
    assert compile_selector(f"{A}.fws.exists(v, v.major() > 1)", version=kv).matches(dev)
    assert compile_selector(f'"h100" in {A}.models', version=kv).matches(dev)
    assert compile_selector(f"size({A}.models) == 2", version=kv).matches(dev)
    # without list attributes an attribute is google.protobuf.Any: not a comprehension range
    with pytest.raises(CelCompileError, match="google.protobuf.Any"):
        compile_selector(f"{A}.fws.exists(v, true)", env_type="new", version="1.35")


def test_device_with_list_attribute_fails_where_lists_are_not_read() -> None:
    dev = device(cores={"int": 2}, numas={"ints": [1]})
    with pytest.raises(CelRuntimeError, match="attribute numas: unsupported attribute value"):
        compile_selector(f"{A}.cores == 2", version="1.36").matches(dev)
    assert compile_selector(f"{A}.cores == 2", version="1.37").matches(dev)


def test_includes_limit_of_1_36() -> None:
    dev = device(numas={"ints": list(range(49))})
    with pytest.raises(CelRuntimeError, match="cannot be applied to lists longer than 48 values"):
        compile_selector(f"{A}.numas.includes(48)", version=KubernetesVersion.of("1.36", LISTS)).matches(dev)
    assert compile_selector(f"{A}.numas.includes(48)", version=KubernetesVersion.of("1.37", LISTS)).matches(dev)


def test_no_such_key_hint_from_1_37() -> None:
    with pytest.raises(CelRuntimeError) as old:
        compile_selector(f"{A}.missing == 1", version="1.36").matches(device())
    assert str(old.value) == "no such key: missing"
    with pytest.raises(CelRuntimeError) as new:
        compile_selector(f"{A}.missing == 1", version="1.37").matches(device())
    assert str(new.value) == ("no such key: missing. consider using CEL optional chaining (.? followed by orValue()) "
                              "or guarding the check with has() for optional fields")


@pytest.mark.parametrize("minor", ["1.34", "1.35", "1.36", "1.37"])
def test_cost_limit_stops_growing_strings(minor: str) -> None:
    bomb = '""' + '.replace("", "0123456789")' * 8
    sel = compile_selector(f'{A}.missing == 1 && {bomb} == ""', version=minor)
    with pytest.raises(CelRuntimeError, match="operation cancelled: actual cost limit exceeded"):
        sel.matches(device())
    assert compile_selector('""' + '.replace("", "0123456789")' * 7 + ' == ""', version=minor).matches(device()) is False


@pytest.mark.parametrize("expr, message", [
    (f'{A}.cores >= device.capacity["{DRIVER}"].cores', "found no matching overload for '_>=_' applied to '(any, kubernetes.Quantity)'"),
    ('{"a": 1} < ' + f"{A}.flags", "found no matching overload for '_<_' applied to '(map(string, int), any)'"),
    (f'device.capacity["{DRIVER}"].x == []', "found no matching overload for '_==_' applied to '(kubernetes.Quantity, list(dyn))'"),
    (f'device.capacity["{DRIVER}"].m.sign() == 1', "found no matching overload for 'sign' applied to 'kubernetes.Quantity.()'"),
    ('{} in {"a": 1}', "found no matching overload for '@in' applied to '(map(dyn, dyn), map(string, int))'"),
])
def test_type_errors_the_api_server_rejects(expr: str, message: str) -> None:
    with pytest.raises(CelCompileError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("{", r"\{")):
        compile_selector(expr, env_type="new", version="1.35")


def test_selectors_pickle_with_their_environment() -> None:
    sel = compile_selector(f"{A}.numas.includes(1)", version=KubernetesVersion.of("1.37", LISTS))
    again = pickle.loads(pickle.dumps(sel))
    assert again.environment == sel.environment
    assert again.matches(device(numas={"ints": [1]}))


def test_legacy_calls_keep_1_35_rules() -> None:
    sel = compile_selector(f"{A}.model == \"a\"", consumable_capacity=False)
    assert sel.environment.minor == "1.35" and sel.matches(device(model={"string": "a"}))
    assert compile_selector(f"{A}.numas.includes(1)", list_type_attributes=True, env_type="new").environment.minor == "1.36"
