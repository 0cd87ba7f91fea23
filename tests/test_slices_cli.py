"""``dra slices``: what it prints is what the builder makes, valid for the chosen version."""

from __future__ import annotations

import json

import pytest
import yaml

from dra.cli import main
from dra.gpu import builtin
from dra.slices import build_slices
from dra.testing.schema import schema_errors


@pytest.mark.parametrize("version", ["1.34", "1.35"])
def test_yaml_output_is_exactly_the_built_slices(version: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["slices", "--profile", "h100-x2", "--node", "n1", "--mode", "dynamic-mig",
            "--k8s-version", version, "-o", "yaml"]
    assert main(argv) == 0
    docs = [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]
    expected = [s.to_dict() for s in build_slices(builtin.load_profile("h100-x2", "n1"),
                                                   mode="dynamic-mig", k8s_version=version)]
    assert docs == expected
    for doc in docs:
        assert schema_errors(doc, version) == []


def test_json_output_and_validate_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["slices", "--profile", "t4-x4", "--node", "n", "--mode", "shared", "-o", "json",
                 "--validate"]) == 0
    data = json.loads(capsys.readouterr().out)
    items = data["items"] if isinstance(data, dict) and "items" in data else data
    items = items if isinstance(items, list) else [items]
    assert items[0]["spec"]["devices"][0]["allowMultipleAllocations"] is True


@pytest.mark.parametrize(
    "argv, message",
    [
        (["slices", "--profile", "dgx-h100", "--k8s-version", "1.30"], "error: --k8s-version: 1.30 does not serve"),
        (["slices", "--profile", "nope"], "error: unknown profile 'nope'"),
    ],
)
def test_bad_input_is_one_line_and_status_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_unknown_mode_is_rejected_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["slices", "--profile", "t4-x1", "--mode", "half"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'half'" in capsys.readouterr().err


def test_slices_from_recorded_nvml_answers(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    from tests.test_gpu_nvml import dgx_h100_answers

    path = tmp_path / "rec.json"
    path.write_text(json.dumps({"format": "dra-nvml-recording/v1", "answers": dgx_h100_answers()}))
    assert main(["slices", "--replay", str(path), "--node", "dgx", "--mode", "static-mig", "-o", "json",
                 "--validate"]) == 0
    data = json.loads(capsys.readouterr().out)
    items = data if isinstance(data, list) else data.get("items", [data])
    names = [d["name"] for s in items for d in s["spec"].get("devices", [])]
    # GPU 0 has minor 7 in the recording: device names follow the minor, as NVIDIA's do.
    assert {"gpu-7-mig-2g20gb-14-0", "gpu-7-mig-1g10gb-19-2", "gpu-7-mig-3g40gb-9-4"} <= set(names)
    assert "gpu-7" not in names and "gpu-6" in names
