"""The ``device`` variable (domains, value mapping, conversion errors) and SelectorMemo."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from dra.api.quantity import Quantity
from dra.cel import CelDevice, CelRuntimeError, SelectorMemo, Semver, SemverError, compile_selector


def attr(**value: object) -> SimpleNamespace:
    """A stand-in with the dra.api.DeviceAttribute field names (int_, bool_, string, version)."""
    fields = {"int_": None, "bool_": None, "string": None, "version": None}
    fields.update(value)
    return SimpleNamespace(**fields)


def test_from_device_uses_api_field_names() -> None:
    device = SimpleNamespace(
        attributes={
            "model": attr(string="H100"),
            "index": attr(int_=0),
            "mig": attr(bool_=False),
            "driverVersion": attr(version="550.54.15"),
            "resource.kubernetes.io/pcieRoot": attr(string="pci0"),
        },
        capacity={"memory": SimpleNamespace(value=Quantity("80Gi"))},
        allow_multiple_allocations=True,
    )
    d = CelDevice.from_device("gpu.nvidia.com", device)
    assert d["attributes"]["gpu.nvidia.com"] == {
        "model": "H100", "index": 0, "mig": False, "driverVersion": Semver("550.54.15"),
    }
    assert d["attributes"]["resource.kubernetes.io"] == {"pcieRoot": "pci0"}
    assert d["capacity"]["gpu.nvidia.com"]["memory"] == Quantity("80Gi")
    assert d["allowMultipleAllocations"] is True
    assert d.driver == "gpu.nvidia.com"
    sel = compile_selector(
        'device.attributes["gpu.nvidia.com"].model == "H100" && '
        'device.attributes["resource.kubernetes.io"].pcieRoot == "pci0" && device.allowMultipleAllocations'
    )
    assert sel.matches(d)


def test_unknown_domain_is_empty_and_unknown_id_is_an_error() -> None:
    d = CelDevice.from_parts("dra.example.com", {"name": {"bool": True}})
    assert compile_selector('device.attributes["other"].size() == 0').matches(d)
    assert not compile_selector('"name" in device.attributes["other"]').matches(d)
    assert not compile_selector('"other" in device.attributes').matches(d)
    with pytest.raises(CelRuntimeError, match="no such key: nope"):
        compile_selector('device.attributes["dra.example.com"].nope').matches(d)


def test_bad_version_fails_every_evaluation() -> None:
    d = CelDevice.from_parts("d", {"v": {"version": "1.02.3"}, "ok": {"bool": True}})
    with pytest.raises(CelRuntimeError, match="parse semantic version"):
        compile_selector("true").matches(d)


def test_attribute_without_value_fails_evaluation() -> None:
    d = CelDevice.from_parts("d", {"empty": attr()})
    with pytest.raises(CelRuntimeError, match="attribute empty: unsupported attribute value"):
        compile_selector("true").matches(d)


def test_capacity_accepts_strings_and_quantities() -> None:
    d = CelDevice.from_parts("d", capacity={"a": "1Gi", "b": Quantity("2"), "x.io/c": {"value": "3"}})
    assert d["capacity"]["d"] == {"a": Quantity("1Gi"), "b": Quantity("2")}
    assert d["capacity"]["x.io"] == {"c": Quantity("3")}


def test_memo_remembers_results_and_errors() -> None:
    sel = compile_selector('device.attributes["d"].n > 1')
    memo = SelectorMemo()
    good = CelDevice.from_parts("d", {"n": 5})
    bad = CelDevice.from_parts("d", {"m": 5})
    assert memo.matches(sel, "good", good) is True
    # a different device under the same key returns the remembered answer
    assert memo.matches(sel, "good", CelDevice.from_parts("d", {"n": 0})) is True
    for _ in range(2):
        with pytest.raises(CelRuntimeError, match="no such key: n"):
            memo.matches(sel, "bad", bad)
    assert len(memo) == 2
    memo.forget_device("good")
    assert memo.matches(sel, "good", CelDevice.from_parts("d", {"n": 0})) is False
    memo.clear()
    assert len(memo) == 0


@pytest.mark.parametrize(
    ("text", "ok"),
    [("1.2.3", True), ("1.2.3-rc.1+build.5", True), ("1.2", False), ("v1.2.3", False), ("01.2.3", False),
     ("1.2.3-01", False), ("1.2.3-", False), ("1.2.3+", False), ("1.2.3-a..b", False), ("", False)],
)
def test_semver_parsing(text: str, ok: bool) -> None:
    assert Semver.is_valid(text) is ok
    if not ok:
        with pytest.raises(SemverError):
            Semver(text)


def test_semver_normalize_and_order() -> None:
    assert str(Semver("v1", normalize=True)) == "1.0.0"
    assert str(Semver("v01.002", normalize=True)) == "1.2.0"
    assert not Semver.is_valid("1.0-rc1", normalize=True)
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
               "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "2.0.0", "2.1.0", "2.1.1"]
    versions = [Semver(v) for v in ordered]
    assert sorted(reversed(versions)) == versions
    assert Semver("1.0.0+a") == Semver("1.0.0+b") and hash(Semver("1.0.0+a")) == hash(Semver("1.0.0"))


def test_memo_matcher_shares_results_with_matches() -> None:
    sel = compile_selector('device.attributes["d"].n > 1')
    memo = SelectorMemo()
    match = memo.matcher(sel)
    assert match("a", CelDevice.from_parts("d", {"n": 5})) is True
    assert memo.matches(sel, "a", CelDevice.from_parts("d", {"n": 0})) is True  # remembered
    with pytest.raises(CelRuntimeError, match="no such key"):
        match("b", CelDevice.from_parts("d", {}))
    assert len(memo) == 2


def test_referenced_paths() -> None:
    sel = compile_selector('device.driver == "a" && device.attributes["gpu.nvidia.com"].productName == "X"')
    assert sel.referenced_paths == [("attributes", "gpu.nvidia.com", "productName"), ("driver",)]
    assert compile_selector('"x" in device.attributes["d"]').referenced_paths == [("attributes", "d")]
    assert compile_selector("true").referenced_paths == []
    assert compile_selector("has(device.driver)").referenced_paths == [()]


def test_signature_separates_what_cel_separates() -> None:
    sel = compile_selector('device.attributes["d"].x == true')
    a = CelDevice.from_parts("d", {"x": True, "uuid": "a"})
    b = CelDevice.from_parts("d", {"x": 1, "uuid": "b"})  # 1 is not true in CEL
    c = CelDevice.from_parts("d", {"x": True, "uuid": "c"})
    missing = CelDevice.from_parts("d", {"uuid": "d"})
    assert sel.signature(a) == sel.signature(c) != sel.signature(b)
    assert sel.signature(missing) != sel.signature(a)
    match = SelectorMemo().grouped_matcher(sel)
    assert [match(a), match(b), match(c)] == [True, False, True]
    with pytest.raises(CelRuntimeError, match="no such key: x"):
        match(missing)


def test_grouped_matcher_evaluates_once_per_signature() -> None:
    sel = compile_selector('device.attributes["d"].model.matches("^H1[0-9]0$")')
    memo = SelectorMemo()
    match = memo.grouped_matcher(sel)
    devices = [CelDevice.from_parts("d", {"model": m, "uuid": str(i)}) for i, m in enumerate(["H100", "A100"] * 50)]
    assert sum(match(d) for d in devices) == 50
    assert len(memo) == 2


def test_selectors_and_devices_pickle() -> None:
    import pickle

    sel = compile_selector('device.attributes["d"].x == 1')
    dev = CelDevice.from_parts("d", {"x": 1, "v": {"version": "1.2.3"}}, {"m": "1Gi"})
    assert pickle.loads(pickle.dumps(sel)) is sel  # recompiled through the cache
    copy = pickle.loads(pickle.dumps(dev))
    assert copy == dev and sel.matches(copy)
    bad = CelDevice.from_parts("d", {"v": {"version": "1.02.3"}})
    assert pickle.loads(pickle.dumps(bad)).error == bad.error


def test_from_device_with_the_api_model() -> None:
    from dra.api import Device

    device = Device.from_dict({
        "name": "gpu-0",
        "attributes": {"model": {"string": "H100"}, "driverVersion": {"version": "550.54.15"},
                       "resource.kubernetes.io/pcieRoot": {"string": "pci0000:00"}},
        "capacity": {"memory": {"value": "80Gi"}},
        "allowMultipleAllocations": True,
    })
    d = CelDevice.from_device("gpu.nvidia.com", device)
    sel = compile_selector(
        'device.attributes["gpu.nvidia.com"].driverVersion.isGreaterThan(semver("550.0.0")) && '
        'device.capacity["gpu.nvidia.com"].memory.compareTo(quantity("40Gi")) > 0 && '
        'device.attributes["resource.kubernetes.io"].pcieRoot == "pci0000:00" && device.allowMultipleAllocations'
    )
    assert sel.matches(d)
