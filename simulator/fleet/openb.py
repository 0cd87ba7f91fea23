"""Loader for the openb node lists (``sn,cpu_milli,memory_mib,gpu,model``).

``openb_node_list_gpu_node.csv`` is the 1,213-node cluster of the FGD paper. The model
names (``G2``, ``G3``, ``T4``, ``P100``, ``V100M16``, ``V100M32``, ``A10``) are the keys of
``dra.gpu``'s catalog, so the same nodes can be turned into ResourceSlices.
"""

from __future__ import annotations

from pathlib import Path

from simulator.csvrows import csv_rows, non_negative_ints
from simulator.errors import FleetError
from simulator.fleet.model import Fleet, NodeSpec

HEADER = ["sn", "cpu_milli", "memory_mib", "gpu", "model"]


def is_openb_node_header(header: list[str]) -> bool:
    return [h.strip() for h in header] == HEADER


def load_openb_nodes(path: str | Path, *, include_cpu_only: bool = True) -> Fleet:
    path = Path(path)
    nodes: list[NodeSpec] = []
    rows = csv_rows(path, FleetError, is_openb_node_header,
                    f"not an openb node list: header must be {','.join(HEADER)}")
    next(rows)
    for where, row in rows:
        if len(row) != len(HEADER):
            raise FleetError(f"{where}: expected {len(HEADER)} columns ({','.join(HEADER)}), got {len(row)}")
        values = non_negative_ints(where, HEADER[1:4], row[1:4], FleetError)
        cpu, mem, gpus = values
        model = row[4].strip()
        if gpus and not model:
            raise FleetError(f"{where}: column 'model': a node with {gpus} GPUs needs a model")
        if not gpus and not include_cpu_only:
            continue
        nodes.append(NodeSpec(row[0].strip(), cpu, mem, gpus, model if gpus else ""))
    return Fleet(name=f"openb-{path.stem.removeprefix('openb_node_list_')}", nodes=nodes)
