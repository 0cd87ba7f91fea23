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


SPOT_HEADER = "gpu_model,gpu_capacity_num,cpu_num,node_name\n"


def test_spot_gpu_node_list_is_a_fleet(tmp_path: Path) -> None:
    path = tmp_path / "node_info_df.csv"
    path.write_text(SPOT_HEADER + "H800,8,192,0\nA800-SXM4-80GB,8,128,1\nGPU-series-1,1,192,2\nGPU-series-2,8,192,3\nA10,1,126,4\n")
    fleet = load_fleet(str(path))
    assert [n.model for n in fleet.nodes] == ["H800-SXM5-80GB", "A800-SXM4-80GB", "ALIBABA-SERIES-1",
                                              "ALIBABA-SERIES-2", "A10"]
    assert fleet.total_gpus == 26 and fleet.nodes[0].cpu_milli == 192000
    assert fleet.nodes[4].memory_mib == 126 * 8 * 1024  # 8 GiB per vCPU, the documented assumption


@pytest.mark.parametrize("row, message", [
    ("H900,8,192,0", "column 'gpu_model': unknown GPU model 'H900'"),
    ("H800,eight,192,0", "column 'gpu_capacity_num': expected an integer"),
    ("H800,8,192", "expected 4 columns"),
])
def test_spot_gpu_node_list_errors_name_file_and_line(tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "spot.csv"
    path.write_text(SPOT_HEADER + "A10,1,128,0\n" + row + "\n")
    with pytest.raises(UserError) as err:
        load_fleet(str(path))
    assert f"{path}:3: {message}" in str(err.value)


def test_spot_gpu_2026_fleet_from_shared(shared_dir: Path) -> None:
    path = shared_dir / "traces/alibaba-spot-gpu-2026/node_info_df.csv"
    if not path.exists():
        pytest.skip(f"{path} not found")
    fleet = load_fleet(str(path))
    assert len(fleet.nodes) == 4278 and fleet.total_gpus == 10412
    assert fleet.models() == {"A10": 2494, "ALIBABA-SERIES-1": 1558, "A100-SXM4-80GB": 3456,
                              "H800-SXM5-80GB": 1752, "ALIBABA-SERIES-2": 976, "A800-SXM4-80GB": 176}


def test_h800_and_a800_have_real_specs_and_mig_tables() -> None:
    from dra.gpu.catalog import find_model

    h800, a800 = find_model("h800"), find_model("a800")
    assert (h800.product_name, h800.memory_mib, h800.multiprocessors) == ("NVIDIA H800", 81559, 132)
    assert (a800.product_name, a800.memory_mib) == ("NVIDIA A800-SXM4-80GB", 81920)
    assert [p.name for p in h800.mig_profiles] == [p.name for p in find_model("h100").mig_profiles]
    assert [p.name for p in a800.mig_profiles] == [p.name for p in find_model("a100").mig_profiles]
    assert "stand-in" in find_model("GPU-series-1").product_name
    assert "stand-in" in find_model("GPU-series-2").product_name and not find_model("GPU-series-2").mig_profiles
