"""Fleets: the openb node list, built-in modern fleets, YAML fleets, model names."""

from __future__ import annotations

from pathlib import Path

import pytest

from dra.errors import UserError
from simulator.fleet.builtin import FLEETS, builtin_fleet
from simulator.fleet.catalog import canonical, short_name
from simulator.fleet.load import load_fleet


def test_openb_gpu_node_list(shared_dir: Path) -> None:
    fleet = load_fleet(str(shared_dir / "traces/alibaba-openb/openb_node_list_gpu_node.csv"))
    assert len(fleet.nodes) == 1213 and fleet.total_gpus == 6212
    assert sum(n.cpu_milli for n in fleet.nodes) == 107_018_000
    assert fleet.models()["G2"] == 4392


def test_builtin_fleets_use_dra_gpu_shapes() -> None:
    fleet = builtin_fleet("modern-mix")
    models = fleet.models()
    assert models["GB200"] == 72 and models["H100-SXM5-80GB"] == 48
    racks = {n.nvlink_domain for n in fleet.nodes if n.model == "GB200"}
    assert racks == {"nvl72-rack-0"}
    for name in FLEETS:
        assert builtin_fleet(name).total_gpus > 0


def test_yaml_fleet_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "f.yaml"
    good.write_text("name: lab\nnodes:\n- shape: dgx-h100\n  count: 2\n- model: l4\n  gpus: 4\n  count: 3\n  cpu: 48\n  memory: 192Gi\n")
    fleet = load_fleet(str(good))
    assert fleet.name == "lab" and len(fleet.nodes) == 5 and fleet.total_gpus == 28
    assert fleet.nodes[-1].model == "L4" and fleet.nodes[-1].memory_mib == 192 * 1024 and fleet.nodes[-1].cpu_milli == 48000
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes:\n- model: Z999\n  gpus: 2\n")
    with pytest.raises(UserError) as err:
        load_fleet(str(bad))
    assert "unknown GPU model 'Z999'" in str(err.value) and "H100-SXM5-80GB" in str(err.value)
    bad.write_text("nodes:\n- shape: dgx-h100\n  gpuz: 2\n")
    with pytest.raises(UserError, match=r"nodes\[0\]\.gpuz: unknown field"):
        load_fleet(str(bad))


def test_unknown_fleet_lists_valid_names() -> None:
    with pytest.raises(UserError) as err:
        load_fleet("modern-mixx")
    assert "did you mean 'modern-mix'" in str(err.value) and "dgx-h100-32" in str(err.value)


def test_model_names_resolve_through_the_catalog() -> None:
    assert canonical("G2") == canonical("g2") == "ALIBABA-G2"
    assert canonical("h100") == "H100-SXM5-80GB"
    assert short_name("ALIBABA-G2") == "G2"
