"""``dra inventory``: table, YAML round trip, replay of recorded NVML answers, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from dra.cli import main
from dra.gpu import builtin


def test_table_lists_every_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inventory", "--profile", "dgx-h100-mig", "--node", "n1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("node n1: 8 GPU(s), driver 580.95.05, CUDA 13.0, NVLink groups [0,1,2,3,4,5,6,7]")
    assert out.count("NVIDIA H100 80GB HBM3") == 8
    assert "on:2g.20gb,1g.10gb,1g.10gb,3g.40gb" in out and "n1-nvl0" in out
    assert "MIG profiles: 1g.10gb x7, 1g.20gb x4, 2g.20gb x3, 3g.40gb x2, 4g.40gb x1, 7g.80gb x1" in out


def test_yaml_output_loads_back_as_a_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inventory", "--profile", "gb200-nvl72", "--node", "tray-1", "-o", "yaml"]) == 0
    path = tmp_path / "tray.yaml"
    path.write_text(capsys.readouterr().out)
    assert builtin.load_profile(path, "tray-1") == builtin.load_profile("gb200-nvl72", "tray-1")


def test_replay_of_a_recording(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.test_gpu_nvml import dgx_h100_answers

    path = tmp_path / "rec.json"
    path.write_text(json.dumps({"format": "dra-nvml-recording/v1", "answers": dgx_h100_answers()}))
    assert main(["inventory", "--replay", str(path), "--node", "dgx", "-o", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["source"] == "nvml" and len(data["gpus"]) == 8
    assert data["gpus"][0]["migDevices"][0]["profile"] == "2g.20gb"


def test_list_profiles(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inventory", "--list-profiles"]) == 0
    out = capsys.readouterr().out
    assert "dgx-h100" in out and "gb200-nvl72" in out and "<model>-x<N>" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["inventory", "--profile", "nope"], "error: unknown profile 'nope'"),
        (["inventory", "--profile", "x9-x2"], "error: unknown GPU model 'x9'"),
        (["inventory", "--replay", "/nonexistent/rec.json"], "error: /nonexistent/rec.json: cannot read NVML recording"),
    ],
)
def test_bad_input_is_one_line_and_status_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_yaml_profile_file_is_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"model": "l4", "count": 2, "numaNodes": 1}))
    assert main(["inventory", "--profile", str(path), "--node", "x"]) == 0
    assert capsys.readouterr().out.count("NVIDIA L4") == 2
