"""dra.testing.schema: the compiled schema check agrees with the generic jsonschema validator."""

from __future__ import annotations

import copy

import pytest

from dra.testing.schema import available_versions, jsonschema_errors, schema_errors, schema_version

SLICE = {
    "apiVersion": "resource.k8s.io/v1",
    "kind": "ResourceSlice",
    "metadata": {"name": "n-gpu.nvidia.com-0"},
    "spec": {
        "driver": "gpu.nvidia.com",
        "nodeName": "n",
        "pool": {"name": "n", "generation": 1, "resourceSliceCount": 1},
        "devices": [
            {"name": "gpu-0", "attributes": {"type": {"string": "gpu"}, "index": {"int": 0}},
             "capacity": {"memory": {"value": "80Gi"}},
             "consumesCounters": [{"counterSet": "gpu-0-counter-set", "counters": {"memory": {"value": "80Gi"}}}]},
            {"name": "gpu-1", "allowMultipleAllocations": True,
             "capacity": {"compute": {"value": "1000", "requestPolicy": {"default": "1000",
                                                                        "validRange": {"min": "1", "step": "1"}}}}},
        ],
    },
}


def _paths(errors: list[str]) -> list[str]:
    return sorted(e.split(": ", 1)[0] for e in errors)


def _mutations() -> list[dict]:
    out = []
    for mutate in [
        lambda d: d["spec"]["devices"][0].update(bogus=1),
        lambda d: d["spec"]["devices"][0]["attributes"].update(x={"int": "seven"}),
        lambda d: d["spec"]["devices"][0]["capacity"].update(memory={"value": True}),
        lambda d: d["spec"]["pool"].update(generation="1"),
        lambda d: d["spec"].pop("driver"),
        lambda d: d["spec"]["devices"][1].update(name=5),
        lambda d: d["spec"]["devices"][0]["consumesCounters"][0].pop("counterSet"),
        lambda d: d["spec"].update(devices={"not": "a list"}),
        lambda d: d.update(kind="ResourceSlice", extra=1),
        lambda d: d["spec"]["devices"][1]["capacity"]["compute"]["requestPolicy"].update(validRange=[]),
    ]:
        doc = copy.deepcopy(SLICE)
        mutate(doc)
        out.append(doc)
    return out


@pytest.mark.parametrize("version", ["1.34", "1.35"])
def test_valid_object_passes_both(version: str) -> None:
    assert schema_errors(SLICE, version) == [] == jsonschema_errors(SLICE, version)


@pytest.mark.parametrize("index", range(10))
def test_compiled_and_generic_validators_agree(index: int) -> None:
    doc = _mutations()[index]
    ours, theirs = schema_errors(doc, "1.35"), jsonschema_errors(doc, "1.35")
    assert ours, "the mutation should be invalid"
    assert _paths(ours) == _paths(theirs)


def test_versions_and_unknown_kinds() -> None:
    assert {"1.34", "1.35"} <= set(available_versions())
    assert schema_version("v1.35.3") == "1.35"
    assert schema_errors({"apiVersion": "example.com/v1", "kind": "Nope"}, "1.35")[0].startswith("<root>: no schema")
    assert schema_errors({"kind": "ResourceSlice"}, "1.35") == ["<root>: kind and apiVersion are required to pick a schema"]
