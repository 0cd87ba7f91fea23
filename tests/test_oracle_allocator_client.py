"""The oracle client: one-line skip without Go, build cache keyed by source, streaming."""

from __future__ import annotations

import pytest

from dra.testing import oracle as oracle_mod


def test_without_go_the_build_command_says_why_in_one_line(monkeypatch, capsys) -> None:
    monkeypatch.setattr(oracle_mod, "go_binary", lambda: None)
    assert oracle_mod.main(["build", "--kubernetes-version", "1.37"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("skipped: Go toolchain not found")
    with pytest.raises(oracle_mod.OracleUnavailable, match="Go toolchain not found"):
        oracle_mod.build("1.37")


def test_go_mod_pins_the_staging_modules_of_the_minor() -> None:
    text = oracle_mod._go_mod("1.34")
    assert "k8s.io/dynamic-resource-allocation v0.34.4" in text and "k8s.io/api v0.34.4" in text
    assert oracle_mod._stamp("1.34") != oracle_mod._stamp("1.35")


@pytest.mark.skipif(oracle_mod.skip_reason() is not None, reason=oracle_mod.skip_reason() or "")
def test_streams_many_problems_and_reports_bad_lines() -> None:
    problem = {"features": {}, "classes": [], "slices": [], "nodeName": "n",
               "claims": [{"metadata": {"name": "c", "namespace": "d"},
                           "spec": {"devices": {"requests": [{"name": "r", "exactly": {
                               "deviceClassName": "missing", "allocationMode": "ExactCount", "count": 1}}]}}}]}
    with oracle_mod.UpstreamAllocator("1.37") as oracle:
        answers = oracle.solve_many([dict(problem, id=i) for i in range(200)])
        assert [a["id"] for a in answers] == list(range(200))
        assert all(a["error"] and "missing" in a["error"] for a in answers)
        bad = oracle.solve({"id": 1, "features": {"NoSuchFeature": True}})
        assert "unknown allocator feature" in bad["error"]
