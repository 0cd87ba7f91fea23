"""Loader for the Alibaba openb pod lists (cluster-trace-gpu-v2023, the FGD paper's traces).

Full schema: ``name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,
creation_time,deletion_time,scheduled_time``; the ``multigpu*`` files carry only the first
five columns. ``gpu_spec`` lists allowed models joined by ``|`` (duplicates are dropped);
``gpu_milli`` is the share of each GPU (1000 = whole). Times become ``arrival`` and
``duration`` (deletion - creation) when present.

Rows are checked as they are read: a bad value raises :class:`TraceError` naming
``file:line`` and the column.
"""

from __future__ import annotations

from pathlib import Path

from simulator.csvrows import csv_rows
from simulator.errors import TraceError
from simulator.trace.model import Pod, Trace

REQUIRED = ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli")
OPTIONAL = ("gpu_spec", "qos", "pod_phase", "creation_time", "deletion_time", "scheduled_time")


def is_openb_header(header: list[str]) -> bool:
    return [h.strip() for h in header[:5]] == list(REQUIRED)


def _int(text: str, where: str, column: str, *, minimum: int = 0, allow_empty: bool = False) -> int | None:
    text = text.strip()
    if text == "" and allow_empty:
        return None
    try:
        value = int(text)
    except ValueError:
        raise TraceError(f"{where}: column {column!r}: expected an integer, got {text!r}") from None
    if value < minimum:
        raise TraceError(f"{where}: column {column!r}: must be >= {minimum}, got {value}")
    return value


def load_openb_pods(path: str | Path) -> Trace:
    path = Path(path)
    pods: list[Pod] = []
    rows = csv_rows(path, TraceError, is_openb_header,
                    f"not an openb pod list: header must start with {','.join(REQUIRED)}")
    _, header = next(rows)
    columns = [h.strip() for h in header]
    unknown = [c for c in columns if c not in REQUIRED + OPTIONAL]
    if unknown:
        raise TraceError(f"{path}:1: unknown column {unknown[0]!r}")
    for where, row in rows:
        if len(row) != len(columns):
            raise TraceError(f"{where}: expected {len(columns)} columns ({','.join(columns)}), got {len(row)}")
        rec = dict(zip(columns, row))
        name = rec["name"].strip()
        if not name:
            raise TraceError(f"{where}: column 'name': empty")
        num_gpu = _int(rec["num_gpu"], where, "num_gpu")
        gpu_milli = _int(rec["gpu_milli"], where, "gpu_milli")
        assert num_gpu is not None and gpu_milli is not None
        if gpu_milli > 1000:
            raise TraceError(f"{where}: column 'gpu_milli': must be <= 1000 (share of each GPU), got {gpu_milli}")
        if num_gpu > 1 and 0 < gpu_milli < 1000:
            raise TraceError(f"{where}: column 'gpu_milli': a fraction ({gpu_milli}) needs num_gpu 1, got {num_gpu}")
        models: tuple[str, ...] = ()
        spec = rec.get("gpu_spec", "").strip()
        if spec:
            seen: list[str] = []
            for part in spec.split("|"):
                part = part.strip()
                if part and part not in seen:
                    seen.append(part)
            models = tuple(seen)
        created = _int(rec.get("creation_time", ""), where, "creation_time", allow_empty=True)
        deleted = _int(rec.get("deletion_time", ""), where, "deletion_time", allow_empty=True)
        duration = None
        if created is not None and deleted is not None:
            if deleted < created:
                raise TraceError(f"{where}: column 'deletion_time': {deleted} is before creation_time {created}")
            duration = float(deleted - created)
        pods.append(
            Pod(
                name=name,
                cpu_milli=_int(rec["cpu_milli"], where, "cpu_milli") or 0,
                memory_mib=_int(rec["memory_mib"], where, "memory_mib") or 0,
                num_gpu=num_gpu if gpu_milli > 0 else 0,
                gpu_milli=gpu_milli if num_gpu > 0 else 0,
                gpu_models=models,
                arrival=float(created or 0),
                duration=duration,
                qos=rec.get("qos", "").strip(),
            )
        )
    name = path.stem.removeprefix("openb_pod_list_")
    return Trace(name=f"openb-{name}", pods=pods)
