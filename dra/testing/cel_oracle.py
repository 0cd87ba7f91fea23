"""Upstream's DRA CEL (``k8s.io/dynamic-resource-allocation/cel``) as a test oracle.

``upstream/cel/`` holds a small Go program that compiles and evaluates device selectors with
upstream's own package (``cel.GetCompiler(features).CompileCELExpression`` and
``DeviceMatches``). :class:`CelOracle` builds it on demand for one Kubernetes minor, into
``${DRA_GPU_CACHE:-~/.cache/dra-gpu}/cel-oracle/<minor>/`` (a generated Go module that pins
``k8s.io/dynamic-resource-allocation`` and friends at that minor's ``v0.<minor>.<patch>``),
reuses the binary while the Go sources are unchanged, and keeps one process running that
answers JSON lines::

    with CelOracle.for_version("1.37") as oracle:
        oracle.ask(expression, device=..., features=...)
        # {"id": ..., "compileError"?: str, "maxCost"?: int, "matches"?: bool, "evalError"?: str, "cost"?: int}

Without Go, :func:`skip_reason` says so in one line and the oracle tests skip. Builds run with
``nice -n 10`` (the machine is shared) and hold a file lock, so parallel test runs build once
(both from :mod:`dra.testing.gobuild`, the recipe every cached Go build here shares).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any, Mapping, Optional

from dra.testing import gobuild
from dra.versions import BUILD_PATCHES, parse_minor

__all__ = ["CelOracle", "OracleError", "SOURCE_DIR", "cache_dir", "device_json", "outcome", "ours", "request", "skip_reason"]

SOURCE_DIR = Path(__file__).resolve().parents[2] / "upstream" / "cel"
_BINARY = "celoracle"


class OracleError(RuntimeError):
    """The oracle could not be built or stopped answering."""


def cache_dir(minor: str) -> Path:
    return gobuild.cache_root() / "cel-oracle" / minor


def skip_reason() -> Optional[str]:
    """One line saying why the oracle cannot run here, or None when it can."""
    if gobuild.go_binary() is None:
        return "upstream CEL oracle needs Go (go not found on PATH)"
    if not (SOURCE_DIR / "main.go").is_file():
        return f"upstream CEL oracle sources not found in {SOURCE_DIR}"
    return None


def _tags(minor: str) -> list[str]:
    tags = []
    key = tuple(int(x) for x in minor.split("."))
    if key >= (1, 36):
        tags.append("listattrs")  # cel.Features.EnableListTypeAttributes exists
    if key >= (1, 37):
        tags.append("errorhint")  # cel.EnhanceRuntimeError exists
    return tags


def _go_mod(minor: str) -> str:
    staging = "v0." + BUILD_PATCHES[minor].split(".", 1)[1]
    return (
        "module draceloracle\n\ngo 1.26\n\nrequire (\n"
        f"\tk8s.io/api {staging}\n\tk8s.io/apiserver {staging}\n"
        f"\tk8s.io/dynamic-resource-allocation {staging}\n)\n"
    )


def _fingerprint(minor: str) -> str:
    h = hashlib.sha256()
    h.update(_go_mod(minor).encode())
    h.update(" ".join(_tags(minor)).encode())
    for path in sorted(SOURCE_DIR.glob("*.go")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def build(minor: str) -> Path:
    """The oracle binary for ``minor``, built (or rebuilt after a source change) when needed."""
    reason = skip_reason()
    if reason:
        raise OracleError(reason)
    minor = parse_minor(minor)
    work = cache_dir(minor)
    binary = work / _BINARY
    go = gobuild.go_binary() or "go"

    def compile_oracle() -> None:
        # The build runs in the cache directory itself; go.mod and go.sum survive while the
        # minor's pins are unchanged, so a source edit rebuilds without resolving modules again.
        for old in work.glob("*.go"):
            old.unlink()
        for src in SOURCE_DIR.glob("*.go"):
            shutil.copy2(src, work / src.name)
        go_mod = work / "go.mod"
        if not go_mod.is_file() or not go_mod.read_text().startswith(_go_mod(minor)):
            go_mod.write_text(_go_mod(minor))
            (work / "go.sum").unlink(missing_ok=True)
        for label, cmd in [("resolving modules", [go, "mod", "tidy"]),
                           ("compiling", [go, "build", "-tags", ",".join(_tags(minor)), "-o", _BINARY, "."])]:
            gobuild.run_step(cmd, work, f"CEL oracle {minor}: {label}", error=OracleError)

    gobuild.ensure(work, _fingerprint(minor), (_BINARY,), compile_oracle, stamp_name="stamp")
    return binary


def device_json(
    driver: str,
    attributes: Optional[Mapping[str, Any]] = None,
    capacity: Optional[Mapping[str, Any]] = None,
    allow_multiple_allocations: Optional[bool] = None,
) -> dict[str, Any]:
    """The oracle's device shape from wire-form attributes (``{"int": 1}``) and capacities."""
    out: dict[str, Any] = {"driver": driver}
    if allow_multiple_allocations is not None:
        out["allowMultipleAllocations"] = allow_multiple_allocations
    if attributes:
        out["attributes"] = {k: (v.to_dict() if hasattr(v, "to_dict") else v) for k, v in attributes.items()}
    if capacity:
        caps = {}
        for k, v in capacity.items():
            if hasattr(v, "to_dict"):
                caps[k] = v.to_dict()
            elif isinstance(v, Mapping):
                caps[k] = dict(v)
            else:
                caps[k] = {"value": str(v)}
        out["capacity"] = caps
    return out


def request(
    expression: str,
    *,
    device: Optional[Mapping[str, Any]] = None,
    consumable_capacity: bool = False,
    list_type_attributes: bool = False,
    cost_limit: Optional[int] = None,
    stored: bool = False,
) -> dict[str, Any]:
    """One oracle request line (without its id)."""
    req: dict[str, Any] = {
        "expression": expression,
        "features": {"consumableCapacity": consumable_capacity, "listTypeAttributes": list_type_attributes},
        "stored": stored,
    }
    if device is not None:
        req["device"] = dict(device)
    if cost_limit is not None:
        req["costLimit"] = cost_limit
    return req


class CelOracle:
    """One running oracle process for one minor; thread-safe, one question at a time."""

    def __init__(self, minor: str) -> None:
        self.minor = parse_minor(minor)
        self.binary = build(self.minor)
        self._lock = threading.Lock()
        self._proc: Optional[subprocess.Popen[str]] = None
        self._next = 0

    _instances: dict[str, "CelOracle"] = {}

    @classmethod
    def for_version(cls, minor: str) -> "CelOracle":
        """A shared oracle per minor (kept running for the life of the test session)."""
        minor = parse_minor(minor)
        if minor not in cls._instances:
            cls._instances[minor] = cls(minor)
        return cls._instances[minor]

    def _start(self) -> subprocess.Popen[str]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [str(self.binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                text=True, bufsize=1,
            )
        return self._proc

    def ask(
        self,
        expression: str,
        *,
        device: Optional[Mapping[str, Any]] = None,
        consumable_capacity: bool = False,
        list_type_attributes: bool = False,
        cost_limit: Optional[int] = None,
        stored: bool = False,
    ) -> dict[str, Any]:
        """Upstream's answer for one expression (and one device, when given)."""
        return self.ask_many([request(expression, device=device, consumable_capacity=consumable_capacity,
                                      list_type_attributes=list_type_attributes, cost_limit=cost_limit,
                                      stored=stored)])[0]

    def ask_many(self, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Answers to several requests (see :func:`request`), written at once and read in order."""
        with self._lock:
            proc = self._start()
            assert proc.stdin is not None and proc.stdout is not None
            lines = []
            for req in requests:
                self._next += 1
                lines.append(json.dumps({**req, "id": str(self._next)}))
            answers = []
            try:
                proc.stdin.write("\n".join(lines) + "\n")
                proc.stdin.flush()
                for _ in lines:
                    line = proc.stdout.readline()
                    if not line:
                        self._proc = None
                        raise OracleError(f"CEL oracle {self.minor} exited on {requests!r}")
                    answers.append(json.loads(line))
            except (BrokenPipeError, OSError) as ex:
                self._proc = None
                raise OracleError(f"CEL oracle {self.minor} died: {ex}") from None
        for answer in answers:
            if answer.get("error"):
                raise OracleError(answer["error"])
        return answers

    def close(self) -> None:
        with self._lock:
            if self._proc is not None:
                if self._proc.stdin:
                    self._proc.stdin.close()
                try:
                    self._proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                self._proc = None

    def __enter__(self) -> "CelOracle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def ours(
    expression: str,
    *,
    minor: str,
    device: Optional[Mapping[str, Any]] = None,
    consumable_capacity: bool = False,
    list_type_attributes: bool = False,
    stored: bool = False,
    cost_limit: Optional[int] = None,
) -> dict[str, Any]:
    """dra.cel's answer in the oracle's shape (``compileError``/``maxCost``/``matches``/``evalError``)."""
    from dra.api import DeviceAttribute, DeviceCapacity
    from dra.cel import CelCompileError, CelDevice, CelRuntimeError
    from dra.cel.selector import Selector, compile_selector
    from dra.versions import KubernetesVersion

    version = KubernetesVersion.of(
        minor,
        {"DRAConsumableCapacity": consumable_capacity, **({"DRAListTypeAttributes": list_type_attributes} if tuple(map(int, minor.split("."))) >= (1, 36) else {})},
    )
    env_type = "stored" if stored else "new"
    try:
        if cost_limit is None:
            selector = compile_selector(expression, env_type=env_type, version=version)
        else:
            selector = Selector(expression, env_type, cost_limit=cost_limit, version=version)
    except CelCompileError as ex:
        return {"compileError": str(ex)}
    answer: dict[str, Any] = {"maxCost": selector.estimated_max_cost}
    if device is None:
        return answer
    try:
        cel_device = CelDevice.from_parts(
            device["driver"],
            {k: DeviceAttribute.from_dict(v) for k, v in (device.get("attributes") or {}).items()},
            {k: DeviceCapacity.from_dict(v) for k, v in (device.get("capacity") or {}).items()},
            device.get("allowMultipleAllocations"),
        )
        answer["matches"] = selector.matches(cel_device)
    except CelRuntimeError as ex:
        answer["evalError"] = str(ex)
    return answer


def outcome(answer: Mapping[str, Any]) -> tuple[Any, ...]:
    """What must agree: rejected at compile, an evaluation error, or the boolean result."""
    if "compileError" in answer:
        return ("compileError",)
    if "evalError" in answer:
        return ("evalError",)
    if "matches" in answer:
        return ("matches", answer["matches"])
    return ("compiled",)
