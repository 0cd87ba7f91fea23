"""Trace loaders (openb, generic CSV/JSONL), the synthetic generator, and their error messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.errors import TraceError
from simulator.trace.generic import load_generic
from simulator.trace.load import load_trace
from simulator.trace.openb import load_openb_pods
from simulator.trace.synthetic import generate

OPENB_HEADER = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_openb_full_schema(tmp_path: Path) -> None:
    path = write(tmp_path, "openb_pod_list_x.csv", OPENB_HEADER + "\n"
                 "p0,12000,16384,1,1000,,LS,Running,0,100,0\n"
                 "p1,6000,12288,1,460,V100M16|V100M32|V100M32,LS,Running,10,50,10\n"
                 "p2,4000,8192,0,0,,BE,Pending,20,,\n")
    trace = load_openb_pods(path)
    assert [p.name for p in trace.pods] == ["p0", "p1", "p2"]
    p0, p1, p2 = trace.pods
    assert (p0.num_gpu, p0.gpu_milli, p0.duration) == (1, 1000, 100.0)
    assert p1.gpu_models == ("V100M16", "V100M32")  # duplicates dropped, order kept
    assert p1.is_share and p1.arrival == 10.0 and p1.duration == 40.0
    assert not p2.is_gpu and p2.duration is None
    assert trace.total_gpu_milli == 1460


def test_openb_multigpu_five_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "name,cpu_milli,memory_mib,num_gpu,gpu_milli\na,1000,100,8,1000\n")
    (pod,) = load_openb_pods(path).pods
    assert pod.num_gpu == 8 and pod.total_gpu_milli == 8000 and pod.arrival == 0.0


@pytest.mark.parametrize(
    "row, message",
    [
        ("p,12x,1,1,1000,,LS,Running,0,1,0", "column 'cpu_milli': expected an integer, got '12x'"),
        ("p,1,1,2,500,,LS,Running,0,1,0", "column 'gpu_milli': a fraction (500) needs num_gpu 1"),
        ("p,1,1,1,1500,,LS,Running,0,1,0", "column 'gpu_milli': must be <= 1000"),
        ("p,1,1,1,100,,LS,Running,5,1,0", "column 'deletion_time': 1 is before creation_time 5"),
        ("p,1,1,1", "expected 11 columns"),
    ],
)
def test_openb_bad_rows_name_file_line_and_column(tmp_path: Path, row: str, message: str) -> None:
    path = write(tmp_path, "bad.csv", OPENB_HEADER + "\nok,1,1,0,0,,LS,Running,0,1,0\n" + row + "\n")
    with pytest.raises(TraceError) as err:
        load_openb_pods(path)
    assert f"{path}:3:" in str(err.value)
    assert message in str(err.value)


def test_generic_csv_and_jsonl(tmp_path: Path) -> None:
    csv_path = write(tmp_path, "t.csv", "name,cpu,memory,gpus,gpu_memory,models,nvlink,arrival,duration,kind\n"
                     "train,32,256Gi,8,80Gi,H100|H200,true,0,3600,training\n"
                     "infer,4,16Gi,0.25,20Gi,,false,5,,inference\n")
    train, infer = load_generic(csv_path).pods
    assert (train.num_gpu, train.gpu_milli, train.nvlink, train.gpu_memory_mib) == (8, 1000, True, 80 * 1024)
    assert train.gpu_models == ("H100", "H200") and train.memory_mib == 256 * 1024 and train.cpu_milli == 32000
    assert (infer.num_gpu, infer.gpu_milli, infer.duration) == (1, 250, None)
    jsonl = write(tmp_path, "t.jsonl", json.dumps({"name": "nb", "cpu_milli": 2000, "mig_profile": "1g.10gb"}) + "\n")
    (nb,) = load_trace(jsonl).pods
    assert nb.mig_profile == "1g.10gb" and nb.num_gpu == 1 and nb.gpu_milli == 142  # 1*1000//7: the 1g slice check (k*1000 >= milli*7) accepts it


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"cpu": 1, "gpus": 1.5}', "field 'gpus': a count above 1 must be whole"),
        ('{"cpu": 1, "gpu": 1}', "unknown field 'gpu'"),
        ('{"cpu": -1}', "field 'cpu': expected a non-negative number"),
        ('{"cpu": 1, "memory": "12Qi"}', "field 'memory'"),
        ('{"cpu": 1,', "column 11: invalid JSON"),
        ('{"gpus": 1}', "field 'cpu' (or 'cpu_milli') is required"),
    ],
)
def test_generic_errors_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path, "bad.jsonl", '{"cpu": 1}\n' + line + "\n")
    with pytest.raises(TraceError) as err:
        load_generic(path)
    assert str(err.value).startswith(f"{path}:2:")
    assert message in str(err.value)


def test_synthetic_is_seeded() -> None:
    a, b, c = generate(300, 7), generate(300, 7), generate(300, 8)
    assert a.pods == b.pods
    assert a.pods != c.pods
    kinds = {p.kind for p in a.pods}
    assert kinds == {"training", "inference", "notebook", "cpu"}
    assert all(p.nvlink and p.gpu_milli == 1000 for p in a.pods if p.kind == "training")
    assert any(p.mig_profile for p in a.pods) and any(p.is_share for p in a.pods if p.kind == "inference")
    arrivals = [p.arrival for p in a.pods]
    assert arrivals == sorted(arrivals)


def test_openb_default_from_shared(shared_dir: Path) -> None:
    trace = load_openb_pods(shared_dir / "traces/alibaba-openb/openb_pod_list_default.csv")
    assert len(trace.pods) == 8152
    assert sum(1 for p in trace.pods if p.is_share) == 3078
    assert round(trace.total_gpu_milli / 1000, 1) == 6086.8


def _fits_some_node(pod, fleet) -> bool:  # noqa: ANN001
    from simulator.fleet.catalog import canonical, model

    allowed = {canonical(m) for m in pod.gpu_models}
    for node in fleet.nodes:
        if node.cpu_milli < pod.cpu_milli or node.memory_mib < pod.memory_mib or node.gpu_count < pod.num_gpu:
            continue
        spec = model(node.model) if node.model else None
        if pod.num_gpu == 0:
            return True
        if spec is None or (allowed and canonical(node.model) not in allowed):
            continue
        if spec.memory_mib < pod.gpu_memory_mib:
            continue
        if pod.mig_profile and not any(p.name == pod.mig_profile for p in spec.mig_profiles):
            continue
        return True
    return False


@pytest.mark.parametrize("seed", [42, 7])
def test_every_synthetic_pod_class_fits_a_node_of_modern_mix(seed: int) -> None:
    """Issue 13: the "80 GiB" floor was 81,920 MiB, above an H100 80GB (81,559 MiB usable)."""
    from simulator.fleet.builtin import builtin_fleet

    fleet = builtin_fleet("modern-mix")
    classes = {(p.kind, p.num_gpu, p.gpu_memory_mib, p.gpu_models, p.mig_profile, p.cpu_milli, p.memory_mib): p
               for p in generate(3000, seed).pods}
    misfits = [key for key, pod in classes.items() if not _fits_some_node(pod, fleet)]
    assert not misfits
    # and every class an H100 may take (any model, or H100 listed) runs on the H100 fleet
    from simulator.fleet.catalog import canonical

    h100 = builtin_fleet("dgx-h100-32")
    meant = {k: p for k, p in classes.items() if not p.gpu_models or "H100-SXM5-80GB" in {canonical(m) for m in p.gpu_models}}
    assert len(meant) > 10
    assert [k for k, p in meant.items() if not _fits_some_node(p, h100)] == []


def test_synthetic_memory_floors_are_real_usable_memory() -> None:
    from dra.gpu.catalog import find_model

    pods = generate(3000, 42).pods
    big = {p.gpu_memory_mib for p in pods if p.kind == "training"}
    assert big == {find_model("h100").memory_mib} == {81559}
    for p in pods:
        if p.mig_profile:  # the profile's own memory and a compute share its slice check accepts
            k = int(p.mig_profile[0])
            assert k * 1000 >= p.gpu_milli * 7
            assert p.gpu_memory_mib <= next(m.memory_bytes // 2**20 for m in find_model("h100").mig_profiles
                                            if m.name == p.mig_profile)


DLRM_HEADER = ("instance_sn,role,app_name,cpu_request,cpu_limit,gpu_request,gpu_limit,rdma_request,rdma_limit,"
               "memory_request,memory_limit,disk_request,disk_limit,max_instance_per_node,creation_time,"
               "scheduled_time,deletion_time\n")


def test_dlrm_rows_become_pods(tmp_path: Path) -> None:
    path = write(tmp_path, "dlrm.csv", DLRM_HEADER
                 + "i0,HN,app_0,12,12,1,1,25,25,120.0,120.0,640.0,800.0,8,,,\n"
                 + "i1,CN,app_1,64,64,0,0,1,1,320.0,320.0,1,1,-1,475.5,623.0,91730.0\n")
    i0, i1 = load_trace(path).pods
    assert (i0.cpu_milli, i0.memory_mib, i0.num_gpu, i0.gpu_milli) == (12000, 120 * 1024, 1, 1000)
    assert (i0.app, i0.max_per_node, i0.rdma_milli, i0.arrival, i0.duration) == ("app_0", 8, 250, 0.0, None)
    assert (i1.max_per_node, i1.arrival, i1.duration, i1.kind) == (0, 475.5, 91730.0 - 475.5, "CN")


@pytest.mark.parametrize("row, message", [
    ("i,HN,a,12,12,0.5,1,25,25,1,1,1,1,8,,,", "column 'gpu_request': whole GPUs only"),
    ("i,HN,a,x,12,1,1,25,25,1,1,1,1,8,,,", "column 'cpu_request': expected a number, got 'x'"),
    ("i,HN,a,12,12,1,1,25,25,1,1,1,1,8,10,,5", "column 'deletion_time': 5 is before creation_time 10"),
])
def test_dlrm_bad_rows_name_file_and_line(tmp_path: Path, row: str, message: str) -> None:
    path = write(tmp_path, "dlrm.csv", DLRM_HEADER + row + "\n")
    with pytest.raises(TraceError) as err:
        load_trace(path)
    assert f"{path}:2: {message}" in str(err.value)


def test_dlrm_anti_affinity_caps_instances_per_node(tmp_path: Path) -> None:
    """max_instance_per_node: 3 instances of app_0 with a limit of 2 on one 8-GPU node -> 2 run,
    1 waits until one leaves; another app is not limited by them."""
    from simulator.engine import replay_time
    from simulator.fleet.model import Fleet, NodeSpec
    from simulator.placement import get_placement
    from simulator.scoring import get_policy

    path = write(tmp_path, "dlrm.csv", DLRM_HEADER
                 + "a,HN,app_0,1,1,1,1,25,25,1,1,1,1,2,0,,100\n"
                 + "b,HN,app_0,1,1,1,1,25,25,1,1,1,1,2,1,,100\n"
                 + "c,HN,app_0,1,1,1,1,25,25,1,1,1,1,2,2,,100\n"
                 + "d,HN,app_1,1,1,1,1,25,25,1,1,1,1,2,3,,100\n")
    fleet = Fleet("one", [NodeSpec("n0", 64000, 1 << 20, 8, "H100-SXM5-80GB")])
    for placement in ("device-plugin", "dra"):
        r = replay_time(fleet, load_trace(path), get_placement(placement), get_policy("fgd"), 1)
        assert r.scheduled == 4 and r.extra["queueing_delay_s"]["max"] == 98.0  # c starts when a leaves at 100


def test_dlrm_2025_from_shared(shared_dir: Path) -> None:
    trace = load_trace(shared_dir / "traces/alibaba-dlrm-2025/disaggregated_DLRM_trace.csv")
    assert len(trace.pods) == 23871
    assert sum(1 for p in trace.pods if p.kind == "HN" and p.num_gpu == 1) == 7386
    assert sum(1 for p in trace.pods if p.kind == "CN" and p.num_gpu == 0) == 16485
