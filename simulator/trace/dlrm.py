"""Loader for the Alibaba disaggregated DLRM serving trace (2025).

``../shared/traces/alibaba-dlrm-2025/disaggregated_DLRM_trace.csv``: 23,871 serving instances
(``CN`` CPU nodes of the pipeline, ``HN`` GPU nodes with one whole GPU each). Columns:
``instance_sn,role,app_name,cpu_request,cpu_limit,gpu_request,gpu_limit,rdma_request,
rdma_limit,memory_request,memory_limit,disk_request,disk_limit,max_instance_per_node,
creation_time,scheduled_time,deletion_time``.

How a row becomes a :class:`Pod`:

- CPU = ``cpu_request`` cores, memory = ``memory_request`` GiB, GPUs = ``gpu_request`` whole
  GPUs (the trace has whole GPUs only);
- ``rdma_request`` is read as a percentage of one RDMA NIC (values 1..100) and kept as
  ``rdma_milli`` (x10). On a fleet with NICs (``rdma_nics``: the DGX and GB200 built-ins, YAML
  fleets) a GPU instance's DRA claim gets a second request, a share of a NIC under the GPU's
  PCIe root, a CPU-only instance's claim a NIC share alone (:mod:`simulator.placement.nics`),
  and the device-plugin models count NIC units per node; on fleets without NICs (openb,
  spot-GPU 2026) it is recorded, not placed;
- ``max_instance_per_node`` > 0 is a per-app anti-affinity limit (``-1``: none);
- arrival = ``creation_time`` (seconds); a row without one was running when the trace began
  (arrival 0); duration = ``deletion_time`` - arrival, None when it was never deleted.
"""

from __future__ import annotations

import math
from pathlib import Path

from simulator.csvrows import csv_rows
from simulator.errors import TraceError
from simulator.trace.model import Pod, Trace

HEADER = ["instance_sn", "role", "app_name", "cpu_request", "cpu_limit", "gpu_request", "gpu_limit",
          "rdma_request", "rdma_limit", "memory_request", "memory_limit", "disk_request", "disk_limit",
          "max_instance_per_node", "creation_time", "scheduled_time", "deletion_time"]
COL = {name: i for i, name in enumerate(HEADER)}


def is_dlrm_header(header: list[str]) -> bool:
    return [h.strip() for h in header] == HEADER


def _num(row: list[str], column: str, where: str, *, optional: bool = False) -> float | None:
    text = row[COL[column]].strip()
    if not text:
        if optional:
            return None
        raise TraceError(f"{where}: column {column!r}: missing")
    try:
        value = float(text)
    except ValueError:
        raise TraceError(f"{where}: column {column!r}: expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise TraceError(f"{where}: column {column!r}: expected a finite number, got {text!r}")
    return value


def load_dlrm(path: str | Path) -> Trace:
    path = Path(path)
    rows = csv_rows(path, TraceError, is_dlrm_header, "not the DLRM trace: header must be " + ",".join(HEADER))
    next(rows)
    pods: list[Pod] = []
    for where, row in rows:
        if len(row) != len(HEADER):
            raise TraceError(f"{where}: expected {len(HEADER)} columns, got {len(row)}")
        cpu = _num(row, "cpu_request", where)
        mem = _num(row, "memory_request", where)
        gpus = _num(row, "gpu_request", where)
        rdma = _num(row, "rdma_request", where)
        limit = _num(row, "max_instance_per_node", where)
        for column, value in (("cpu_request", cpu), ("memory_request", mem), ("gpu_request", gpus)):
            if value is not None and value < 0:
                raise TraceError(f"{where}: column {column!r}: must be >= 0, got {value:g}")
        if gpus != int(gpus):  # type: ignore[arg-type]
            raise TraceError(f"{where}: column 'gpu_request': whole GPUs only, got {gpus:g}")
        created = _num(row, "creation_time", where, optional=True)
        deleted = _num(row, "deletion_time", where, optional=True)
        arrival = created if created is not None else 0.0
        if deleted is not None and deleted < arrival:
            raise TraceError(f"{where}: column 'deletion_time': {deleted:g} is before creation_time {arrival:g}")
        n = int(gpus)  # type: ignore[arg-type]
        pods.append(Pod(
            row[COL["instance_sn"]].strip(), cpu_milli=int(round(cpu * 1000)),  # type: ignore[operator]
            memory_mib=int(round(mem * 1024)), num_gpu=n, gpu_milli=1000 if n else 0,  # type: ignore[operator]
            arrival=arrival, duration=None if deleted is None else deleted - arrival,
            kind=row[COL["role"]].strip(), app=row[COL["app_name"]].strip(),
            max_per_node=int(limit) if limit and limit > 0 else 0,
            rdma_milli=int(round((rdma or 0) * 10)),
        ))
    return Trace(name=f"dlrm-{path.stem}", pods=pods)
