"""The transcribed upstream CEL selector cases all pass, and the runner reports problems well."""

from __future__ import annotations

from pathlib import Path

import pytest

from dra.testing.cel_conformance import CelCaseError, load_cases, run_cel_conformance


def test_all_shared_cases_pass(shared_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = shared_dir / "conformance" / "cel-cases.jsonl"
    if not path.exists():
        pytest.skip(f"{path} not found")
    assert len(load_cases(path)) == 19
    status = run_cel_conformance(path, verbose=True)
    out = capsys.readouterr().out
    assert out.rstrip().endswith("19 passed, 0 failed"), out
    assert status == 0


def test_failures_are_reported_with_expected_and_actual(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = ('{"name": "wrong", "expression": "device.driver == \\"a\\"", "envType": "StoredExpressions",'
            ' "device": {"driver": "b", "attributes": {}, "capacity": {}},'
            ' "expect": {"outcome": "match", "result": true}}')
    path = tmp_path / "cases.jsonl"
    path.write_text(case + "\n")
    assert run_cel_conformance(path) == 1
    out = capsys.readouterr().out
    assert "FAIL wrong" in out and "expected result true, got result false" in out
    assert out.rstrip().endswith("0 passed, 1 failed")


def test_bad_file_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"name": "ok", "expression": "true", "device": {}, "expect": {"outcome": "match"}}\n{nope\n')
    with pytest.raises(CelCaseError, match=r"bad\.jsonl:2: invalid JSON"):
        run_cel_conformance(path)
    path.write_text('{"name": "x", "expression": "true", "device": {}, "expect": {"outcome": "maybe"}}\n')
    with pytest.raises(CelCaseError, match=r"bad\.jsonl:1: expect\.outcome must be one of"):
        load_cases(path)


def test_cli_command(shared_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dra.cli import main

    path = shared_dir / "conformance" / "cel-cases.jsonl"
    if not path.exists():
        pytest.skip(f"{path} not found")
    assert main(["conformance", "cel", str(path)]) == 0
    assert capsys.readouterr().out.strip().endswith("19 passed, 0 failed")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n")
    assert main(["conformance", "cel", str(bad)]) == 2
    assert f"error: {bad}:1: invalid JSON" in capsys.readouterr().err
