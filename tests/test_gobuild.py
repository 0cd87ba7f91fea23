"""The shared cached-Go-build recipe (``dra.testing.gobuild``): stamps, lock, steps; no Go needed."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from dra.testing import gobuild


class Boom(RuntimeError):
    pass


def _builder(out: Path, calls: list[int], *, delay: float = 0.0, fail: bool = False):
    def build() -> None:
        calls.append(1)
        time.sleep(delay)
        if fail:
            raise Boom("compile failed")
        (out / "bin").write_text(f"build {len(calls)}")
    return build


def test_builds_once_and_reuses_a_matching_stamp(tmp_path):
    calls: list[int] = []
    assert gobuild.ensure(tmp_path, "v1", ("bin",), _builder(tmp_path, calls)) is True
    assert (tmp_path / "stamp.json").read_text() == "v1"
    assert gobuild.ensure(tmp_path, "v1", ("bin",), _builder(tmp_path, calls)) is False
    assert calls == [1]


def test_a_cache_written_before_gobuild_stays_current(tmp_path):
    # The oracles' and helm's stamp files have their own names and texts (helm's ends in a newline).
    (tmp_path / ".built-from").write_text("helm.sh/helm/v4@v4.3.2 go1.26.8\n")
    (tmp_path / "helm").write_text("binary")
    calls: list[int] = []
    built = gobuild.ensure(tmp_path, "helm.sh/helm/v4@v4.3.2 go1.26.8\n", ("helm",), _builder(tmp_path, calls),
                           stamp_name=".built-from")
    assert (built, calls) == (False, [])


@pytest.mark.parametrize("damage", ["other stamp", "missing output"])
def test_rebuilds_when_the_stamp_or_an_output_does_not_match(tmp_path, damage):
    calls: list[int] = []
    gobuild.ensure(tmp_path, "v1", ("bin",), _builder(tmp_path, calls))
    if damage == "missing output":
        (tmp_path / "bin").unlink()
        stamp = "v1"
    else:
        stamp = "v2"
    assert gobuild.ensure(tmp_path, stamp, ("bin",), _builder(tmp_path, calls)) is True
    assert len(calls) == 2 and (tmp_path / "stamp.json").read_text() == stamp


def test_a_failed_build_leaves_no_stamp_so_the_next_run_builds_again(tmp_path):
    calls: list[int] = []
    gobuild.ensure(tmp_path, "v1", ("bin",), _builder(tmp_path, calls))
    with pytest.raises(Boom):
        gobuild.ensure(tmp_path, "v2", ("bin",), _builder(tmp_path, calls, fail=True))
    assert not (tmp_path / "stamp.json").exists()  # the old stamp no longer vouches for half-built outputs
    assert gobuild.ensure(tmp_path, "v1", ("bin",), _builder(tmp_path, calls)) is True


def test_a_build_that_produces_nothing_is_not_stamped(tmp_path):
    with pytest.raises(RuntimeError, match="did not produce bin"):
        gobuild.ensure(tmp_path, "v1", ("bin",), lambda: None)
    assert not (tmp_path / "stamp.json").exists()


def test_concurrent_builders_build_once(tmp_path):
    calls: list[int] = []
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(
        gobuild.ensure(tmp_path, "v1", ("bin",), _builder(tmp_path, calls, delay=0.3)))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1] and sorted(results) == [False, False, True]


def test_run_step_failure_is_one_line_and_keeps_the_log(tmp_path):
    lines: list[str] = []
    with pytest.raises(Boom) as err:
        gobuild.run_step(["sh", "-c", "echo resolving; echo 'main.go:3: undefined: x' >&2; exit 3"], tmp_path,
                         "compile", error=Boom, progress=lines.append)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("compile failed: main.go:3: undefined: x")
    assert "resolving" in (tmp_path / "build.log").read_text()
    assert lines == ["  compile ..."]


def test_run_step_reports_progress_with_times(tmp_path):
    lines: list[str] = []
    gobuild.run_step(["true"], tmp_path, "download modules", error=Boom, progress=lines.append, started=time.monotonic())
    assert lines[0] == "  download modules ..."
    assert lines[1].startswith("  download modules: done in ") and "CPU-s (total " in lines[1]


def test_go_env_keeps_the_callers_goflags(monkeypatch):
    monkeypatch.setenv("GOFLAGS", "-p=1")
    env = gobuild.go_env("-mod=mod")
    assert env["GOFLAGS"] == "-p=1 -buildvcs=false -mod=mod"
    assert (env["CGO_ENABLED"], env["GOTOOLCHAIN"]) == ("0", "local")


def test_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DRA_GPU_CACHE", str(tmp_path))
    assert gobuild.cache_root() == tmp_path
    monkeypatch.delenv("DRA_GPU_CACHE")
    assert gobuild.cache_root() == Path.home() / ".cache" / "dra-gpu"
