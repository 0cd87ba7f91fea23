"""Loader for the Alibaba spot-GPU 2026 node list (``gpu_model,gpu_capacity_num,cpu_num,node_name``).

``../shared/traces/alibaba-spot-gpu-2026/node_info_df.csv``: 4,278 nodes, 10,412 GPUs (A10,
A100-SXM4-80GB, H800, A800-SXM4-80GB and two undisclosed series, which ``dra.gpu.catalog``
maps to documented stand-ins). The file gives vCPUs but no host memory; we give every node
``MEM_PER_VCPU_MIB`` (8 GiB) per vCPU -- an assumption, stated here and in the fleet's name
nowhere else, so CPU-and-memory-bound conclusions on this fleet should be read with it.
"""

from __future__ import annotations

from pathlib import Path

from simulator.csvrows import csv_rows, non_negative_ints
from simulator.errors import FleetError
from simulator.fleet.catalog import canonical
from simulator.fleet.model import Fleet, NodeSpec

HEADER = ["gpu_model", "gpu_capacity_num", "cpu_num", "node_name"]
MEM_PER_VCPU_MIB = 8 * 1024


def is_spot_node_header(header: list[str]) -> bool:
    return [h.strip() for h in header] == HEADER


def load_spot_nodes(path: str | Path) -> Fleet:
    path = Path(path)
    rows = csv_rows(path, FleetError, is_spot_node_header,
                    f"not a spot-GPU node list: header must be {','.join(HEADER)}")
    next(rows)
    nodes: list[NodeSpec] = []
    models: dict[str, str] = {}
    for where, row in rows:
        if len(row) != len(HEADER):
            raise FleetError(f"{where}: expected {len(HEADER)} columns ({','.join(HEADER)}), got {len(row)}")
        values = non_negative_ints(where, HEADER[1:3], row[1:3], FleetError)
        gpus, cpus = values
        name = row[0].strip()
        if gpus and name not in models:
            try:
                models[name] = canonical(name)
            except Exception as err:
                raise FleetError(f"{where}: column 'gpu_model': {err}") from None
        nodes.append(NodeSpec(f"spot-{row[3].strip()}", cpus * 1000, cpus * MEM_PER_VCPU_MIB, gpus,
                              models[name] if gpus else ""))
    return Fleet(name=f"spot-gpu-2026-{path.stem}", nodes=nodes)
