"""manifests/: DeviceClasses and example claim templates are valid Kubernetes objects (schema of
1.34 and 1.35 plus our API validation), and our allocator places the examples on slices from
the builder exactly where they should fit, and nowhere else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dra.testing.schema import schema_errors

REPO = Path(__file__).resolve().parent.parent
MANIFESTS = REPO / "manifests"
EXAMPLES = sorted((MANIFESTS / "examples").glob("*.yaml"))
VERSIONS = ("1.34", "1.35")


def _docs(path: Path) -> list[dict[str, Any]]:
    import yaml

    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_there_are_the_promised_examples() -> None:
    names = {p.stem for p in EXAMPLES}
    assert {"gpu-40gi", "four-gpus-one-nvlink-domain", "mig-1g10gb", "shared-gpu-quarter"} <= names
    classes = [d["metadata"]["name"] for d in _docs(MANIFESTS / "deviceclasses.yaml")]
    assert classes == ["gpu.nvidia.com", "mig.nvidia.com", "shared.gpu.nvidia.com"]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", [MANIFESTS / "deviceclasses.yaml", *EXAMPLES], ids=lambda p: p.name)
def test_manifest_matches_the_kubernetes_schema(path: Path, version: str) -> None:
    for doc in _docs(path):
        assert schema_errors(doc, version) == []


def test_schema_check_can_fail() -> None:
    doc = _docs(EXAMPLES[0])[0]
    doc["spec"]["spec"]["devices"]["requests"][0]["exactly"]["count"] = "four"
    doc["spec"]["spec"]["devices"]["colour"] = "red"
    errors = schema_errors(doc, "1.35")
    assert any("count" in e for e in errors) and any("colour" in e for e in errors)


# --------------------------------------------------------------------------------------
# allocation against built slices (needs dra.api models and dra.allocator)

from dra.api import Node, ResourceClaim  # noqa: E402
from dra.api.io import load_objects  # noqa: E402
from dra.api.validation import validate  # noqa: E402
from dra.gpu import builtin  # noqa: E402
from dra.slices import build_slices  # noqa: E402

try:
    from dra.allocator import AllocatedState, Allocator, Features
except ImportError as err:  # pragma: no cover - only while the allocator is being written
    pytest.skip(f"dra.allocator not importable: {err}", allow_module_level=True)


@pytest.mark.parametrize("version", VERSIONS)
def test_manifests_pass_our_validation(version: str) -> None:
    for path in [MANIFESTS / "deviceclasses.yaml", *EXAMPLES]:
        for obj in load_objects(path):
            assert [str(e) for e in validate(obj, k8s_version=version)] == [], path.name


CLASSES = load_objects(MANIFESTS / "deviceclasses.yaml")


def _claim(example: str, name: str = "c") -> ResourceClaim:
    (template,) = load_objects(MANIFESTS / "examples" / f"{example}.yaml")
    spec = template.spec.spec.to_dict()
    return ResourceClaim.from_dict({"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
                                    "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
                                    "spec": spec})


def _node(name: str) -> Node:
    return Node.from_dict({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})


def _allocator(profile: str, mode: str, node: str = "n1") -> Allocator:
    slices = build_slices(builtin.load_profile(profile, node), mode=mode)
    return Allocator(Features.all_enabled(), CLASSES, slices)


def _devices(result: Any) -> list[str]:
    return [r.device for r in result.devices.results]


@pytest.mark.parametrize(
    "example, profile, mode, fits",
    [
        ("gpu-40gi", "dgx-h100", "whole", True),
        ("gpu-40gi", "dgx-a100-40gb", "whole", True),
        ("gpu-40gi", "inference-l4", "whole", False),
        ("gpu-40gi", "t4-x1", "whole", False),
        ("four-gpus-one-nvlink-domain", "dgx-h100", "whole", True),
        ("four-gpus-one-nvlink-domain", "gb200-nvl72", "whole", True),
        ("four-gpus-one-nvlink-domain", "hgx-h100-pcie", "whole", False),
        ("four-gpus-one-nvlink-domain", "inference-l4", "whole", False),
        ("mig-1g10gb", "dgx-h100-mig", "static-mig", True),
        ("mig-1g10gb", "dgx-h100", "dynamic-mig", True),
        ("mig-1g10gb", "dgx-h100", "whole", False),
        ("mig-1g10gb", "inference-t4", "dynamic-mig", False),
        ("shared-gpu-quarter", "t4-x1", "shared", True),
        ("shared-gpu-quarter", "t4-x1", "whole", False),
    ],
)
def test_example_is_allocated_where_it_fits(example: str, profile: str, mode: str, fits: bool) -> None:
    allocator = _allocator(profile, mode)
    result = allocator.allocate(_node("n1"), [_claim(example)])
    if not fits:
        assert result is None
        return
    assert result is not None
    devices = _devices(result[0])
    if example == "four-gpus-one-nvlink-domain":
        assert len(set(devices)) == 4
    if example == "mig-1g10gb":
        assert len(devices) == 1 and "-mig-1g10gb-19-" in devices[0]


def _allocate_repeatedly(allocator_args: tuple, example: str, limit: int) -> list[list[str]]:
    features, slices = allocator_args
    state = AllocatedState()
    placed = []
    for i in range(limit):
        allocator = Allocator(features, CLASSES, slices, state)
        result = allocator.allocate(_node("n1"), [_claim(example, f"c{i}")])
        if result is None:
            break
        for r in result[0].devices.results:
            state.add_result(r)
        placed.append(_devices(result[0]))
    return placed


def test_shared_gpu_takes_exactly_four_quarters() -> None:
    slices = build_slices(builtin.load_profile("t4-x1", "n1"), mode="shared")
    placed = _allocate_repeatedly((Features.all_enabled(), slices), "shared-gpu-quarter", 10)
    assert placed == [["gpu-0"]] * 4


def test_dynamic_mig_counters_stop_at_seven_1g_slices() -> None:
    slices = build_slices(builtin.build_node("h100", 1, "n1"), mode="dynamic-mig")
    placed = _allocate_repeatedly((Features.all_enabled(), slices), "mig-1g10gb", 20)
    assert len(placed) == 7
    assert sorted(p[0] for p in placed) == [f"gpu-0-mig-1g10gb-19-{s}" for s in range(7)]
