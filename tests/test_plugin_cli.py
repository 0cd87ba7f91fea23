"""`dra plugin` command-line behaviour: user errors are one line and exit 2."""

from __future__ import annotations

import json

import pytest

from dra.cli import main
from dra.plugin.checkpoint import PREPARE_COMPLETED, CheckpointFile, ClaimRecord


def run(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("argv, message", [
    (["plugin", "run"], "error: --node-name is required (or set NODE_NAME)"),
    (["plugin", "run", "--node-name", "n", "--mode", "bogus"], "error: --mode: unknown mode 'bogus'"),
    (["plugin", "run", "--node-name", "n", "--kubernetes-version", "1.20"], "error: --kubernetes-version: '1.20' is not one of 1.34, 1.35, 1.36, 1.37"),
    (["plugin", "run", "--node-name", "n", "--kubeconfig", "/nonexistent/kubeconfig"], "error: cannot configure the Kubernetes client"),
])
def test_run_flag_errors(argv, message, capsys, monkeypatch):
    monkeypatch.delenv("NODE_NAME", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    code, _, err = run(argv + ["--log-format", "text"], capsys)
    assert code == 2
    assert err.startswith(message) and err.count("\n") == 1 and "Traceback" not in err


def test_checkpoint_show_and_corrupt(tmp_path, capsys):
    path = tmp_path / "gpu.nvidia.com" / "checkpoint.json"
    CheckpointFile(path, boot_id="b").write({"u": ClaimRecord("u", "ns", "c", PREPARE_COMPLETED, []).to_json()})
    code, out, _ = run(["plugin", "checkpoint", "--plugins-dir", str(tmp_path)], capsys)
    assert code == 0
    shown = json.loads(out)
    assert shown["status"].startswith("from an earlier boot") and shown["nodeBootID"] == "b"
    assert shown["preparedClaims"]["u"]["state"] == PREPARE_COMPLETED
    path.write_text("{")
    code, _, err = run(["plugin", "checkpoint", "--plugins-dir", str(tmp_path)], capsys)
    assert code == 2 and "unreadable checkpoint: not valid JSON" in err and err.count("\n") == 1
