"""Built-in GPU catalog, MIG tables, node shapes and profiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from dra.gpu import builtin
from dra.gpu.catalog import GPU_MODELS, OPENB_MODELS, UnknownModelError, find_model
from dra.gpu.inventory import InventoryError, NodeInventory

EIGHT_SLICE_TABLE = {  # (profile kind by compute slices/memory slices) -> (instances, placements)
    (1, 1): (7, [(s, 1) for s in range(7)]),
    (1, 2): (4, [(0, 2), (2, 2), (4, 2), (6, 2)]),
    (2, 2): (3, [(0, 2), (2, 2), (4, 2)]),
    (3, 4): (2, [(0, 4), (4, 4)]),
    (4, 4): (1, [(0, 4)]),
    (7, 8): (1, [(0, 8)]),
}


def test_h100_mig_table_matches_the_public_one() -> None:
    h100 = find_model("h100")
    got = {p.name: p.max_instances for p in h100.mig_profiles}
    assert got == {"1g.10gb": 7, "1g.20gb": 4, "2g.20gb": 3, "3g.40gb": 2, "4g.40gb": 1, "7g.80gb": 1}
    ids = {p.name: p.gi_profile_id for p in h100.mig_profiles}
    assert ids == {"1g.10gb": 19, "1g.20gb": 15, "2g.20gb": 14, "3g.40gb": 9, "4g.40gb": 5, "7g.80gb": 0}


@pytest.mark.parametrize("key", [k for k, m in GPU_MODELS.items() if m.mig_capable])
def test_every_mig_table_has_the_eight_slice_placements(key: str) -> None:
    model = GPU_MODELS[key]
    assert len(model.mig_profiles) == 6
    for prof in model.mig_profiles:
        instances, placements = EIGHT_SLICE_TABLE[(prof.compute_slices, prof.memory_slices)]
        assert prof.max_instances == instances
        assert [(p.start, p.size) for p in prof.placements] == placements
        # A profile never needs more than the whole GPU.
        assert prof.memory_bytes <= model.memory_bytes
        assert prof.multiprocessors <= model.multiprocessors
    names = [p.name for p in model.mig_profiles]
    assert len(set(names)) == len(names)


def test_a100_40gb_table() -> None:
    got = {p.name: p.max_instances for p in find_model("A100-SXM4-40GB").mig_profiles}
    assert got == {"1g.5gb": 7, "1g.10gb": 4, "2g.10gb": 3, "3g.20gb": 2, "4g.20gb": 1, "7g.40gb": 1}


def test_catalog_covers_the_requested_models() -> None:
    for name in ["H100-SXM5-80GB", "H100-PCIE-80GB", "H200-SXM5-141GB", "B200-180GB", "GB200",
                 "A100-SXM4-40GB", "A100-SXM4-80GB", "L40S", "L4", "A10G", "T4", "V100-SXM2-16GB",
                 "V100-SXM2-32GB", "P100-PCIE-16GB"]:
        assert name in GPU_MODELS
    assert set(OPENB_MODELS) == {"G2", "G3", "P100", "T4", "V100M16", "V100M32", "A10"}
    assert "stand-in" in find_model("G2").product_name
    assert find_model("v100m16").memory_mib < find_model("V100M32").memory_mib
    with pytest.raises(UnknownModelError, match="unknown GPU model 'X9'"):
        find_model("X9")


def test_build_node_for_openb_models() -> None:
    for code in OPENB_MODELS:
        inv = builtin.build_node(code, 2, f"openb-{code.lower()}")
        assert len(inv.gpus) == 2
        assert len({g.uuid for g in inv.gpus}) == 2
    v100 = builtin.build_node("V100M32", 8, "openb-node-0001")
    assert v100.nvlink_groups == (tuple(range(8)),)  # hybrid cube-mesh: one domain
    t4 = builtin.build_node("T4", 4, "openb-node-0002")
    assert t4.nvlink_groups == ()
    assert len({g.nvlink_domain for g in t4.gpus}) == 4  # each GPU its own domain


def test_build_node_is_deterministic_and_names_are_unique_across_nodes() -> None:
    a1 = builtin.build_node("h100", 8, "a")
    a2 = builtin.build_node("h100", 8, "a")
    b = builtin.build_node("h100", 8, "b")
    assert a1 == a2
    assert {g.uuid for g in a1.gpus}.isdisjoint(g.uuid for g in b.gpus)
    assert {g.nvlink_domain for g in a1.gpus} == {"a-nvl0"}
    assert {g.nvlink_domain for g in b.gpus} == {"b-nvl0"}


def test_long_node_names_keep_domains_short_and_unique() -> None:
    n1, n2 = "x" * 200 + "1", "x" * 200 + "2"
    d1 = builtin.build_node("h100", 2, n1).gpus[0].nvlink_domain
    d2 = builtin.build_node("h100", 2, n2).gpus[0].nvlink_domain
    assert d1 and d2 and len(d1) <= 64 and len(d2) <= 64 and d1 != d2


def test_named_shapes() -> None:
    names = builtin.profile_names()
    for name in ["dgx-h100", "dgx-h200", "dgx-b200", "gb200-nvl72", "inference-l4", "inference-t4"]:
        assert name in names
    for name in names:
        inv = builtin.load_profile(name, "node-a")
        assert inv.gpus and inv.node_name == "node-a"
    dgx = builtin.load_profile("dgx-h100", "n")
    assert len(dgx.gpus) == 8 and dgx.nvlink_groups == (tuple(range(8)),)
    assert {g.numa_node for g in dgx.gpus} == {0, 1}
    mig = builtin.load_profile("dgx-h100-mig", "n").gpus[0]
    assert mig.mig_enabled
    assert sorted(d.profile for d in mig.mig_devices) == ["1g.10gb", "1g.10gb", "2g.20gb", "3g.40gb"]
    used = [s for d in mig.mig_devices for s in d.placement.slices]
    assert len(used) == len(set(used))  # no two MIG devices share a memory slice
    pcie = builtin.load_profile("hgx-h100-pcie", "n")
    assert pcie.nvlink_groups == ((0, 1), (2, 3), (4, 5), (6, 7))


def test_gb200_rack_is_one_clique() -> None:
    rack = builtin.gb200_nvl72_rack("rack-a")
    assert len(rack) == 18 and sum(len(n.gpus) for n in rack) == 72
    domains = {g.nvlink_domain for n in rack for g in n.gpus}
    assert len(domains) == 1
    other = builtin.gb200_nvl72_rack("rack-b", nodes=1)
    assert other[0].gpus[0].nvlink_domain not in domains
    gpu = rack[0].gpus[0]
    assert gpu.fabric_clique == gpu.nvlink_domain and gpu.clique_id == "1"


def test_unknown_profile_is_a_clear_error() -> None:
    with pytest.raises(builtin.ProfileError, match="unknown profile 'nope'"):
        builtin.load_profile("nope", "n")
    with pytest.raises(builtin.ProfileError, match="no MIG profile '9g.1gb'"):
        builtin.build_node("h100", 1, "n", mig_layout=["9g.1gb"])
    with pytest.raises(builtin.ProfileError, match="do not fit"):
        builtin.build_node("h100", 1, "n", mig_layout=["7g.80gb", "1g.10gb"])


def test_yaml_shape_profile(tmp_path: Path) -> None:
    path = tmp_path / "shape.yaml"
    path.write_text(
        "model: a100-40gb\ncount: 4\nnvlink: [[0, 1], [2, 3]]\nmigLayout: [3g.20gb, 3g.20gb]\n"
        "driverVersion: 535.104.05\ncudaDriverVersion: '12.2'\n"
    )
    inv = builtin.load_profile(path, "yaml-node")
    assert inv.nvlink_groups == ((0, 1), (2, 3))
    g = inv.gpus[3]
    assert g.driver_version == "535.104.05" and g.cuda_driver_version == "12.2"
    assert [d.placement.start for d in g.mig_devices] == [0, 4]


def test_yaml_profile_errors_name_the_place(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: h100\ncount: [\n")
    with pytest.raises(builtin.ProfileError, match=r"bad.yaml:\d+: invalid YAML"):
        builtin.load_profile(bad, "n")
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("model: h100\ncolour: red\n")
    with pytest.raises(builtin.ProfileError, match="colour: unknown field"):
        builtin.load_profile(unknown, "n")
    badcount = tmp_path / "count.yaml"
    badcount.write_text("model: h100\ncount: two\n")
    with pytest.raises(builtin.ProfileError, match="count: expected a non-negative integer"):
        builtin.load_profile(badcount, "n")
    with pytest.raises(builtin.ProfileError, match="cannot read profile"):
        builtin.load_profile(tmp_path / "missing.yaml", "n")


def test_recorded_inventory_round_trips_through_yaml(tmp_path: Path) -> None:
    import yaml

    inv = builtin.load_profile("dgx-h100-mig", "recorded")
    path = tmp_path / "inv.yaml"
    path.write_text(yaml.safe_dump(inv.to_dict()))
    assert builtin.load_profile(path, "recorded") == inv
    moved = builtin.load_profile(path, "elsewhere")
    assert moved.node_name == "elsewhere"
    assert {g.nvlink_domain for g in moved.gpus} == {"elsewhere-nvl0"}


def test_inventory_from_dict_errors() -> None:
    with pytest.raises(InventoryError, match=r"gpus\[0\].memoryBytes: expected an integer"):
        data = builtin.load_profile("t4-x1", "n").to_dict()
        data["gpus"][0]["memoryBytes"] = "lots"
        NodeInventory.from_dict(data)
    with pytest.raises(InventoryError, match=r"gpus\[0\].bogus: unknown field"):
        data = builtin.load_profile("t4-x1", "n").to_dict()
        data["gpus"][0]["bogus"] = 1
        NodeInventory.from_dict(data)
