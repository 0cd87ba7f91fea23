"""``dra sim``: replay JSON, bad input (exit 2, file:line, valid names), compare report and plots,
and a sweep on an in-process Dask LocalCluster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dra.cli import main
from simulator.run import RunOptions
from simulator.sweep import make_jobs, run_jobs

NODES = "sn,cpu_milli,memory_mib,gpu,model\n" + "".join(
    f"node-{i},32000,131072,{[1, 2, 4, 8][i % 4]},{['T4', 'G2', 'V100M16', 'P100'][i % 4]}\n" for i in range(12)
)
PODS = "name,cpu_milli,memory_mib,num_gpu,gpu_milli\n" + "".join(
    f"pod-{i:03d},{2000 + 500 * (i % 5)},4096,{1 if i % 7 else 2},{[1000, 500, 250, 1000, 750][i % 5] if i % 7 else 1000}\n"
    for i in range(60)
)


@pytest.fixture()
def files(tmp_path: Path) -> tuple[str, str]:
    nodes, pods = tmp_path / "nodes.csv", tmp_path / "pods.csv"
    nodes.write_text(NODES)
    pods.write_text(PODS)
    return str(nodes), str(pods)


def test_replay_writes_unallocated_at_arrived_100(files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    nodes, pods = files
    out = tmp_path / "r.json"
    rc = main(["sim", "replay", "--nodes", nodes, "--pods", pods, "--method", "fgd", "--policy", "fgd",
               "--seeds", "42-44", "--placement", "dra", "--json", str(out), "--no-progress"])
    assert rc == 0
    data = json.loads(out.read_text())
    u = data["unallocated_pct_at_arrived_100"]
    assert set(u) >= {"mean", "median", "per_seed"} and set(u["per_seed"]) == {"42", "43", "44"}
    assert data["index_disagreements"]["max"] == 0
    assert "unallocated at arrived 100%" in capsys.readouterr().out


def test_bad_inputs_exit_2_with_one_line(files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    nodes, pods = files
    bad = tmp_path / "bad.csv"
    bad.write_text("name,cpu_milli,memory_mib,num_gpu,gpu_milli\nok,1,1,0,0\nx,1,1,one,0\n")
    assert main(["sim", "replay", "--nodes", nodes, "--pods", str(bad), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:3: column 'num_gpu'" in err and "Traceback" not in err
    assert main(["sim", "replay", "--nodes", nodes, "--pods", pods, "--policy", "bestfitt"]) == 2
    assert "unknown policy 'bestfitt'" in capsys.readouterr().err
    spec = tmp_path / "spec.csv"
    spec.write_text("name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,"
                    "deletion_time,scheduled_time\np7,1000,100,1,500,T4|Z9,LS,Running,0,5,0\n")
    assert main(["sim", "replay", "--nodes", nodes, "--pods", str(spec), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "pod p7: unknown GPU model 'Z9'" in err and "V100M32" in err
    assert main(["sim", "replay", "--nodes", nodes, "--pods", pods, "--placement", "dp"]) == 2
    assert "valid: device-plugin" in capsys.readouterr().err.replace("dra, dra-whole, ", "")


def test_compare_writes_report_json_and_plots(files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    nodes, pods = files
    out = tmp_path / "cmp"
    rc = main(["sim", "compare", "--nodes", nodes, "--pods", pods, "--placements", "device-plugin,dra",
               "--policies", "kube-default,fgd", "--seeds", "1-2", "--out", str(out), "--no-progress"])
    assert rc == 0
    report = (out / "report.md").read_text()
    assert "| device-plugin | kube-default | fgd |" in report and "| dra | fgd | fgd |" in report
    assert (out / "allocation.png").stat().st_size > 1000 and (out / "fragmentation.png").exists()
    data = json.loads((out / "results.json").read_text())
    assert len(data["aggregates"]) == 4 and len(data["runs"]) == 8
    printed = capsys.readouterr().out
    assert "dra" in printed and "idle+wasted" in printed


def test_sweep_on_an_in_process_dask_cluster(files: tuple[str, str]) -> None:
    distributed = pytest.importorskip("distributed")
    nodes, pods = files
    jobs = make_jobs(nodes, [pods], ["device-plugin", "dra"], ["bestfit"], [1, 2], RunOptions())
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            via_dask = run_jobs(jobs, client=client)
    local = run_jobs(jobs, workers=1)
    assert [r["placement"] for r in via_dask] == ["device-plugin", "device-plugin", "dra", "dra"]
    strip = lambda rs: [(r["placement"], r["seed"], r["failed"], r["unallocated_pct_at_arrived_100"]) for r in rs]  # noqa: E731
    assert strip(via_dask) == strip(local)
