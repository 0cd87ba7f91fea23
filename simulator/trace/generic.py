"""The generic trace format (CSV with a header, or JSON Lines), for traces that are not openb.

One pod per row/line. Fields (all but ``cpu``/``cpu_milli`` optional):

==================  ==========================================================================
``name``            pod name (default ``pod-<row>``)
``cpu``             CPU in cores (``4``, ``0.5``) -- or ``cpu_milli`` in millicores
``memory``          host memory as a Kubernetes quantity (``16Gi``) -- or ``memory_mib``
``gpus``            GPU count (``1``, ``8``) or a fraction of one GPU (``0.25``); default 0
``gpu_memory``      GPU memory each GPU (or slice) must offer, a quantity (``40Gi``) -- or
                    ``gpu_memory_mib``
``models``          allowed GPU models, ``|``-separated in CSV or a list in JSONL (empty = any)
``mig_profile``     a MIG profile name such as ``1g.10gb`` (the pod wants exactly a slice)
``nvlink``          ``true`` when a multi-GPU pod needs all its GPUs in one NVLink domain
``arrival``         seconds from the trace origin (default: the row index)
``duration``        seconds (empty = runs until the end of the replay)
``kind``            free-form workload label used in reports (``training``, ``inference``...)
==================  ==========================================================================

Errors name ``file:line`` and the field.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from simulator.errors import TraceError
from simulator.fleet.catalog import mig_profile_names
from simulator.trace.model import Pod, Trace

FIELDS = (
    "name", "cpu", "cpu_milli", "memory", "memory_mib", "gpus", "gpu_memory", "gpu_memory_mib",
    "models", "mig_profile", "nvlink", "arrival", "duration", "kind",
)

MIB = 1024 * 1024


def _quantity_mib(value: Any, where: str, field: str) -> int:
    from dra.api import Quantity  # the project's exact Kubernetes quantity

    try:
        q = Quantity(str(value).strip())
    except Exception as err:  # QuantityError is a UserError; keep the trace place in front
        raise TraceError(f"{where}: field {field!r}: {err}") from None
    if q.sign() < 0:
        raise TraceError(f"{where}: field {field!r}: must not be negative, got {value!r}")
    return int(math.ceil(q.as_fraction() / MIB))


def _number(value: Any, where: str, field: str, *, integer: bool = False) -> float:
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if math.isnan(number) or math.isinf(number) or number < 0 or (integer and number != int(number)):
        kind = "a non-negative integer" if integer else "a non-negative number"
        raise TraceError(f"{where}: field {field!r}: expected {kind}, got {value!r}")
    return number


def _bool(value: Any, where: str, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", ""):
        return False
    raise TraceError(f"{where}: field {field!r}: expected true or false, got {value!r}")


def pod_from_record(rec: dict[str, Any], where: str, index: int) -> Pod:
    unknown = [k for k in rec if k not in FIELDS]
    if unknown:
        raise TraceError(f"{where}: unknown field {unknown[0]!r}; valid: {', '.join(FIELDS)}")
    present = {k: v for k, v in rec.items() if v is not None and not (isinstance(v, str) and v.strip() == "")}
    if "cpu_milli" in present:
        cpu_milli = int(_number(present["cpu_milli"], where, "cpu_milli", integer=True))
    elif "cpu" in present:
        cpu_milli = int(round(_number(present["cpu"], where, "cpu") * 1000))
    else:
        raise TraceError(f"{where}: field 'cpu' (or 'cpu_milli') is required")
    if "memory_mib" in present:
        memory_mib = int(_number(present["memory_mib"], where, "memory_mib", integer=True))
    elif "memory" in present:
        memory_mib = _quantity_mib(present["memory"], where, "memory")
    else:
        memory_mib = 0
    gpus = _number(present.get("gpus", 0), where, "gpus")
    if gpus >= 1:
        if gpus != int(gpus):
            raise TraceError(f"{where}: field 'gpus': a count above 1 must be whole, got {present['gpus']!r}")
        num_gpu, gpu_milli = int(gpus), 1000
    elif gpus > 0:
        num_gpu, gpu_milli = 1, max(1, int(round(gpus * 1000)))
    else:
        num_gpu, gpu_milli = 0, 0
    if "gpu_memory_mib" in present:
        gpu_mem = int(_number(present["gpu_memory_mib"], where, "gpu_memory_mib", integer=True))
    elif "gpu_memory" in present:
        gpu_mem = _quantity_mib(present["gpu_memory"], where, "gpu_memory")
    else:
        gpu_mem = 0
    models_raw = present.get("models", ())
    if isinstance(models_raw, str):
        models_list = [m.strip() for m in models_raw.split("|")]
    elif isinstance(models_raw, (list, tuple)):
        models_list = [str(m).strip() for m in models_raw]
    else:
        raise TraceError(f"{where}: field 'models': expected a list or a '|'-separated string")
    models = tuple(dict.fromkeys(m for m in models_list if m))
    mig = present.get("mig_profile")
    if mig is not None:
        mig = str(mig).strip()
        known = mig_profile_names()
        if mig and mig not in known:
            raise TraceError(f"{where}: field 'mig_profile': unknown MIG profile {mig!r} "
                             f"(valid: {', '.join(sorted(known))})")
        if num_gpu == 0:
            # the slice's share: the profile's compute slices out of 7, rounded down so the
            # slice check k*1000 >= milli*7 accepts it (1g -> 142 milli)
            try:
                num_gpu, gpu_milli = 1, int(mig.split("g", 1)[0]) * 1000 // 7
            except ValueError:
                raise TraceError(f"{where}: field 'mig_profile': expected a profile like 1g.10gb, got {mig!r}") from None
    nvlink = _bool(present.get("nvlink", False), where, "nvlink")
    arrival = _number(present.get("arrival", index), where, "arrival")
    duration = _number(present["duration"], where, "duration") if "duration" in present else None
    return Pod(
        name=str(present.get("name", f"pod-{index}")),
        cpu_milli=cpu_milli,
        memory_mib=memory_mib,
        num_gpu=num_gpu,
        gpu_milli=gpu_milli,
        gpu_models=models,
        gpu_memory_mib=gpu_mem,
        mig_profile=mig or None,
        nvlink=nvlink,
        arrival=arrival,
        duration=duration,
        kind=str(present.get("kind", "")),
    )


def load_generic(path: str | Path) -> Trace:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise TraceError(f"{path}: cannot read: {err.strerror}") from None
    pods: list[Pod] = []
    if path.suffix in (".jsonl", ".ndjson", ".json"):
        for line_no, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{path}:{line_no}"
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as err:
                raise TraceError(f"{where}: column {err.colno}: invalid JSON: {err.msg}") from None
            if not isinstance(rec, dict):
                raise TraceError(f"{where}: expected a JSON object per line")
            pods.append(pod_from_record(rec, where, len(pods)))
    else:
        reader = csv.DictReader(text.splitlines())
        if reader.fieldnames is None:
            raise TraceError(f"{path}:1: empty file")
        unknown = [f for f in reader.fieldnames if f not in FIELDS]
        if unknown:
            raise TraceError(f"{path}:1: unknown column {unknown[0]!r}; valid: {', '.join(FIELDS)}")
        for rec in reader:
            where = f"{path}:{reader.line_num}"
            if None in rec:
                raise TraceError(f"{where}: more values than header columns")
            pods.append(pod_from_record(dict(rec), where, len(pods)))
    names = set()
    for pod in pods:
        if pod.name in names:
            raise TraceError(f"{path}: duplicate pod name {pod.name!r}")
        names.add(pod.name)
    return Trace(name=path.stem, pods=pods)
