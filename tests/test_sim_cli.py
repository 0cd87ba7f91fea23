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
    # one figure per question (what is usable / wasted / how fragmented; waiting needs the time method)
    for figure in ("usable.png", "wasted.png", "fragmentation.png"):
        assert (out / figure).stat().st_size > 1000, figure
    data = json.loads((out / "results.json").read_text())
    assert len(data["aggregates"]) == 4 and len(data["runs"]) == 8
    printed = capsys.readouterr().out
    assert "dra" in printed and "idle+wasted" in printed


def test_compare_prices_waste_in_dollars(files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    nodes, pods = files
    out = tmp_path / "cmp"
    assert main(["sim", "compare", "--nodes", nodes, "--pods", pods, "--placements", "device-plugin",
                 "--policies", "kube-default", "--seeds", "1", "-o", str(out), "--no-progress",
                 "--price-per-gpu-hour", "2.5"]) == 0
    assert "$2.5 per GPU-hour" in (out / "report.md").read_text()
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:  # argparse's own one-line usage error
        main(["sim", "compare", "--nodes", nodes, "--pods", pods, "-o", str(out), "--price-per-gpu-hour", "-1"])
    assert exit_.value.code == 2
    assert "must be above 0" in capsys.readouterr().err


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


def test_output_flags_and_deprecated_aliases(files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    nodes, pods = files
    new, old = tmp_path / "new.json", tmp_path / "old.json"
    assert main(["sim", "replay", "--nodes", nodes, "-f", pods, "--placement", "device-plugin", "-o", str(new),
                 "--no-progress"]) == 0
    assert main(["sim", "replay", "--nodes", nodes, "--pods", pods, "--placement", "device-plugin",
                 "--json", str(old), "--no-progress"]) == 0
    assert "--json is deprecated; use -o/--output" in capsys.readouterr().err
    a, b = json.loads(new.read_text()), json.loads(old.read_text())
    assert a["runs"][0]["failed"] == b["runs"][0]["failed"] and a["runs"][0]["kubernetes_version"] == "1.37"


def test_output_path_checked_before_the_run(files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import simulator.cli as cli

    nodes, pods = files
    ran: list[int] = []
    monkeypatch.setattr(cli, "run_one", lambda *a, **k: ran.append(1))
    assert main(["sim", "replay", "--nodes", nodes, "-f", pods, "-o", str(tmp_path), "--no-progress"]) == 2
    assert "is a directory, expected a file name" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["sim", "compare", "--nodes", nodes, "-f", pods, "-o", str(blocker), "--no-progress"]) == 2
    assert "exists and is not a directory" in capsys.readouterr().err
    assert main(["sim", "sweep", "--nodes", nodes, "-f", pods, "-o", str(blocker / "x.json"), "--no-progress"]) == 2
    assert "is not a directory" in capsys.readouterr().err
    assert ran == []


@pytest.mark.parametrize("case", ["binary-trace", "binary-fleet", "dir-nodes", "mig-fraction", "mig-profile",
                                  "version", "gates", "replicas"])
def test_bad_input_one_line_exit_2(case: str, files: tuple[str, str], tmp_path: Path,
                                   capsys: pytest.CaptureFixture) -> None:
    nodes, pods = files
    binary = tmp_path / "blob.csv"
    binary.write_bytes(bytes(range(256)) * 8)
    mig = tmp_path / "mig.jsonl"
    mig.write_text('{"name": "a", "cpu_milli": 1000, "memory_mib": 10, "mig_profile": "1g.10gb"}\n'
                   '{"name": "b", "cpu_milli": 1000, "memory_mib": 10, "mig_profile": "9g.99gb"}\n')
    args, expect = {
        "binary-trace": (["--nodes", nodes, "-f", str(binary)], "a binary file, expected a trace file"),
        "binary-fleet": (["--nodes", str(binary), "-f", pods], "a binary file, expected a fleet node list file"),
        "dir-nodes": (["--nodes", str(tmp_path), "-f", pods], "is a directory, expected a fleet YAML file"),
        "mig-fraction": (["--nodes", nodes, "-f", pods, "--mig-fraction", "2"], "expected a number between 0 and 1"),
        "mig-profile": (["--nodes", nodes, "-f", str(mig)], f"{mig}:2: field 'mig_profile': unknown MIG profile '9g.99gb'"),
        "version": (["--nodes", nodes, "-f", pods, "--kubernetes-version", "1.29"], "1.29 is not supported"),
        "gates": (["--nodes", nodes, "-f", pods, "--feature-gates", "Nope=true"], "Nope"),
        "replicas": (["--nodes", nodes, "-f", pods, "--replicas", "0"], "expected a positive integer"),
    }[case]
    with pytest.raises(SystemExit) as stop:  # argparse errors exit 2 themselves
        rc = main(["sim", "replay", *args, "--no-progress"])
        raise SystemExit(rc)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert expect in err and "Traceback" not in err


def test_compare_takes_several_traces(files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    nodes, pods = files
    second = tmp_path / "pods2.csv"
    second.write_text(PODS.replace("pod-", "other-")[: len(PODS) // 2].rsplit("\n", 1)[0] + "\n")
    out = tmp_path / "cmp"
    for spelling in (["--pods", pods, "--pods", str(second)], ["--pods", pods, str(second)]):  # -f A B: {a,b}
        assert main(["sim", "compare", "--nodes", nodes, *spelling, "--placements", "device-plugin",
                     "--policies", "fgd", "-o", str(out), "--no-progress"]) == 0
        data = json.loads((out / "results.json").read_text())
        assert len(data["runs"]) == 2 and len({r["trace"] for r in data["runs"]}) == 2


def test_progress_lines_when_not_a_terminal(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    from simulator import cli

    clock = iter([0.0, 0.0, 1.0, 6.0, 7.0, 12.5])
    monkeypatch.setattr(cli.time, "monotonic", lambda: next(clock))
    bar = cli._Progress(100, True, "seed 42")
    for i in (10, 20, 50, 60, 90):
        bar(i)
    bar.close()
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["seed 42: 50/100 pods (50%), 6 s", "seed 42: 90/100 pods (90%), 12 s"]


def test_sweep_failed_job_reported_and_the_rest_complete(files: tuple[str, str], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Dask jobs carry the loaded fleet and trace (a relative path is resolved on the client), and a
    job that raises comes back with its parameters while the others finish."""
    distributed = pytest.importorskip("distributed")
    nodes, pods = files
    monkeypatch.chdir(tmp_path)
    jobs = make_jobs("nodes.csv", ["pods.csv"], ["device-plugin", "no-such-placement"], ["bestfit"], [1, 2],
                     RunOptions())
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            monkeypatch.chdir("/")  # the workers could not find a relative path now
            results = run_jobs(jobs, client=client)
    ok = [r for r in results if "error" not in r]
    bad = [r for r in results if "error" in r]
    assert [r["seed"] for r in ok] == [1, 2] and all(r["placement"] == "device-plugin" for r in ok)
    assert [b["job"]["placement"] for b in bad] == ["no-such-placement"] * 2
    assert "unknown placement 'no-such-placement'" in bad[0]["error"] and bad[0]["job"]["seed"] == 1
    assert bad[0]["job"]["pods"] == str(tmp_path / "pods.csv")
