"""kubectl's habits on the ``dra`` subcommands: ``-f -``, ``-o json`` as a v1 List, ``-o name``,
``-o wide``, ``--version``, one ``--kubernetes-version`` spelling, help on every flag,
canonical quantities, and the klog-style logs of :mod:`dra.logs`."""

from __future__ import annotations

import argparse
import io
import json
import logging
import re
from pathlib import Path

import pytest
import yaml

from dra.cli import build_parser, main, package_version
from dra.logs import KlogJsonFormatter, KlogTextFormatter, Progress, configure

ROOT = Path(__file__).resolve().parent.parent


def _subparsers(parser: argparse.ArgumentParser, prefix: str = "dra"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix} {name}", sub
                yield from _subparsers(sub, f"{prefix} {name}")


def _owned(name: str) -> bool:
    return name.split()[1] in ("allocate", "slices", "inventory", "conformance", "plugin")


def test_version_comes_from_package_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"dra {version('dra-gpu')}" == f"dra {package_version()}"


def test_every_flag_has_help_and_one_version_spelling() -> None:
    for name, sub in _subparsers(build_parser()):
        if not _owned(name):
            continue
        for action in sub._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            assert action.help, f"{name} {action.option_strings or action.dest}: no help"
            assert "--k8s-version" not in action.option_strings or action.help == argparse.SUPPRESS, name


def test_required_flags_are_shown_as_required() -> None:
    usage = build_parser()._subparsers._group_actions[0].choices["allocate"].format_usage()
    assert "-f FILE|DIR|-" in usage and "[-f" not in usage


@pytest.fixture
def inputs(tmp_path: Path) -> list[str]:
    from dra.api.io import dump_yaml
    from dra.gpu.builtin import load_profile
    from dra.slices import build_slices

    slices = tmp_path / "slices.yaml"
    slices.write_text(dump_yaml(build_slices(load_profile("h100-x2", "n1"), mode="shared")))
    return ["-f", str(ROOT / "manifests" / "deviceclasses.yaml"), "-f", str(slices)]


CLAIMS = """\
apiVersion: resource.k8s.io/v1
kind: ResourceClaim
metadata: {name: a, namespace: default}
spec: {devices: {requests: [{name: gpu, exactly: {deviceClassName: shared.gpu.nvidia.com,
  capacity: {requests: {compute: "250", memory: 20Gi}}}}]}}
---
apiVersion: resource.k8s.io/v1
kind: ResourceClaim
metadata: {name: b, namespace: default}
spec: {devices: {requests: [{name: gpu, exactly: {deviceClassName: gpu.nvidia.com}}]}}
"""


def test_allocate_reads_stdin_and_prints_a_v1_list(inputs, monkeypatch, capsys) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(CLAIMS))
    assert main(["allocate", *inputs, "-f", "-", "-o", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["apiVersion"] == "v1" and data["kind"] == "List"
    assert [c["metadata"]["name"] for c in data["items"]] == ["a", "b"]
    # The same list loads back through our own reader, as `kubectl apply -f` would take it.
    from dra.api.io import load_objects_from_text

    assert len(load_objects_from_text(json.dumps(data))) == 2


def test_allocate_name_wide_and_canonical_quantities(inputs, tmp_path, capsys) -> None:
    claims = tmp_path / "claims.yaml"
    claims.write_text(CLAIMS)
    assert main(["allocate", *inputs, "-f", str(claims), "-o", "name"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "resourceclaim.resource.k8s.io/a", "resourceclaim.resource.k8s.io/b"]
    assert main(["allocate", *inputs, "-f", str(claims), "-o", "wide"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["NAMESPACE", "NAME", "NODE", "DEVICES"]
    assert re.search(r"^default\s+a\s+n1\s+gpu=n1/gpu-\d", out, re.M)
    assert main(["allocate", *inputs, "-f", str(claims)]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    consumed = docs[0]["status"]["allocation"]["devices"]["results"][0]["consumedCapacity"]
    assert consumed["memory"] == "20Gi"


def test_slices_name_and_deprecated_version_alias(capsys) -> None:
    assert main(["slices", "--profile", "t4-x2", "--node", "n", "-o", "name", "--k8s-version", "1.34"]) == 0
    assert capsys.readouterr().out == "resourceslice.resource.k8s.io/00000-gpu.nvidia.com-n\n"
    assert main(["slices", "--profile", "t4-x2", "--node", "n", "-o", "yaml"]) == 0
    assert "value: 15Gi" in capsys.readouterr().out


def test_inventory_memory_is_canonical(capsys) -> None:
    assert main(["inventory", "--profile", "t4-x1", "--node", "n"]) == 0
    out = capsys.readouterr().out
    assert "15Gi" in out and "16106127360" not in out and "UUID" not in out
    assert main(["inventory", "--profile", "t4-x1", "--node", "n", "-o", "wide"]) == 0
    assert "UUID" in capsys.readouterr().out


def test_failure_is_exit_1_not_2(inputs, tmp_path, capsys) -> None:
    claim = tmp_path / "big.yaml"
    claim.write_text(CLAIMS.split("---")[1].replace("exactly: {deviceClassName: gpu.nvidia.com}",
                                                    "exactly: {deviceClassName: gpu.nvidia.com, count: 9}"))
    assert main(["allocate", *inputs, "-f", str(claim)]) == 1


# -- logs -------------------------------------------------------------------------------


def _record(msg: str, level: int = logging.INFO, **extra) -> logging.LogRecord:
    logger = logging.getLogger("dra.test")
    return logger.makeRecord("dra.test", level, "/x/driver.py", 42, msg, (), None, extra=extra)


def test_klog_text_line() -> None:
    line = KlogTextFormatter().format(_record("published slices", node="node-a", count=3, ok=True))
    assert re.fullmatch(r'I\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ driver\.py:42\] "published slices" node="node-a" count=3 ok=true',
                        line), line
    assert KlogTextFormatter().format(_record("x", logging.WARNING)).startswith("W")
    assert KlogTextFormatter().format(_record("x", logging.ERROR)).startswith("E")


def test_klog_json_line() -> None:
    entry = json.loads(KlogJsonFormatter().format(_record("published slices", node="node-a")))
    assert entry["msg"] == "published slices" and entry["level"] == "info" and entry["v"] == 0
    assert entry["caller"] == "driver.py:42" and entry["node"] == "node-a" and isinstance(entry["ts"], float)
    assert json.loads(KlogJsonFormatter().format(_record("d", logging.DEBUG)))["v"] == 4


def test_grpc_logger_goes_through_ours(monkeypatch) -> None:
    monkeypatch.delenv("GRPC_VERBOSITY", raising=False)
    buf = io.StringIO()
    configure("json", "info", 0, stream=buf)
    try:
        logging.getLogger("grpc._server").warning("grpc said %s", "hi")
        logging.getLogger("dra.plugin").debug("hidden")
        entry = json.loads(buf.getvalue())
        assert entry["msg"] == "grpc said hi" and entry["logger"] == "grpc._server"
        import os

        assert os.environ["GRPC_VERBOSITY"] == "ERROR"
        configure("text", "info", 1, stream=buf)
        logging.getLogger("dra.plugin").debug("shown")
        assert '"shown"' in buf.getvalue()
    finally:
        for name in ("dra", "simulator", "grpc"):
            logging.getLogger(name).handlers[:] = []
            logging.getLogger(name).propagate = True


def test_progress_logs_a_line_every_few_seconds_off_a_terminal() -> None:
    now = [0.0]
    buf = io.StringIO()
    logger = logging.getLogger("dra.progress.test")
    handler = logging.StreamHandler(buf)
    handler.setFormatter(KlogTextFormatter())
    logger.addHandler(handler)
    try:
        with Progress(total=100, desc="replays", every=4.99, stream=buf, logger=logger, clock=lambda: now[0]) as p:
            for _ in range(100):
                now[0] += 0.2  # 20 s in all: a line at 5, 10, 15 and 20 s, and one at the end
                p.update()
        lines = buf.getvalue().splitlines()
        assert len(lines) == 5, lines
        assert 'desc="replays" done=25 total=100 percent=25.0' in lines[0]
        assert '"done"' in lines[-1] and "done=100" in lines[-1]
    finally:
        logger.removeHandler(handler)
