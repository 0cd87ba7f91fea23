"""One entry point for fleets: a built-in name, an openb or spot-GPU 2026 node-list CSV, or a YAML file.

YAML fleet file::

    name: my-fleet
    nodes:
      - shape: dgx-h100          # a dra.gpu node shape (NODE_SHAPES) ...
        count: 4
        cpu: 224                 # cores (or cpu_milli), default 64 per 8 GPUs
        memory: 2Ti              # quantity (or memory_mib), default 1 TiB
        rdma_nics: 8             # RDMA NICs per node (spread over the GPUs' PCIe roots), default 0
      - model: L4                # ... or a GPU model and a GPU count per node
        gpus: 4
        count: 10

Errors name the file and the entry (``fleet.yaml: nodes[1].gpus: ...``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from simulator.csvrows import check_text_file, read_header
from simulator.errors import FleetError, UnknownNameError
from simulator.fleet.builtin import FLEETS, builtin_fleet
from simulator.fleet.catalog import canonical
from simulator.fleet.model import Fleet, NodeSpec
from simulator.fleet.openb import is_openb_node_header, load_openb_nodes
from simulator.fleet.spot import is_spot_node_header, load_spot_nodes

GIB = 1024
ENTRY_KEYS = {"shape", "model", "gpus", "count", "cpu", "cpu_milli", "memory", "memory_mib", "name", "rdma_nics"}


def load_fleet(source: str | Path) -> Fleet:
    text = str(source)
    if text in FLEETS:
        return builtin_fleet(text)
    path = Path(text)
    if not path.exists():
        if path.suffix in (".csv", ".yaml", ".yml"):
            raise FleetError(f"{path}: no such fleet file")
        raise UnknownNameError("fleet", text, list(FLEETS) + ["<openb node list .csv>", "<fleet .yaml>"])
    if path.suffix == ".csv":
        header = read_header(path, FleetError, "fleet node list")
        if is_spot_node_header(header):
            return load_spot_nodes(path)
        if not is_openb_node_header(header):
            raise FleetError(f"{path}:1: not a node list: expected the openb header "
                             "(sn,cpu_milli,memory_mib,gpu,model) or the spot-GPU header "
                             "(gpu_model,gpu_capacity_num,cpu_num,node_name)")
        return load_openb_nodes(path)
    check_text_file(path, FleetError, "fleet YAML")
    return _load_yaml(path)


def _load_yaml(path: Path) -> Fleet:
    from dra.api import Quantity
    from dra.gpu.builtin import NODE_SHAPES

    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise FleetError(f"{path}{line}: invalid YAML") from None
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        raise FleetError(f"{path}: expected a mapping with a 'nodes' list")
    nodes: list[NodeSpec] = []
    for i, entry in enumerate(data["nodes"]):
        where = f"{path}: nodes[{i}]"
        if not isinstance(entry, dict):
            raise FleetError(f"{where}: expected a mapping")
        unknown = set(entry) - ENTRY_KEYS
        if unknown:
            raise FleetError(f"{where}.{sorted(unknown)[0]}: unknown field; valid: {', '.join(sorted(ENTRY_KEYS))}")
        shape_name = entry.get("shape")
        if shape_name is not None:
            if shape_name not in NODE_SHAPES:
                raise UnknownNameError(f"node shape at {where}.shape", str(shape_name), NODE_SHAPES)
            shape = NODE_SHAPES[shape_name]
            model, gpus = canonical(shape.model), shape.count
        else:
            if "model" not in entry:
                raise FleetError(f"{where}: needs 'shape' or 'model'")
            model = canonical(str(entry["model"]))
            gpus = entry.get("gpus", 8)
            if not isinstance(gpus, int) or gpus < 0:
                raise FleetError(f"{where}.gpus: expected a non-negative integer, got {gpus!r}")
        count = entry.get("count", 1)
        if not isinstance(count, int) or count < 1:
            raise FleetError(f"{where}.count: expected a positive integer, got {count!r}")
        cpu = _amount(entry, "cpu", "cpu_milli", where, default=max(8, gpus * 8) * 1000, scale=1000)
        mem = _amount(entry, "memory", "memory_mib", where, default=max(64, gpus * 128) * GIB, quantity=Quantity)
        nics = entry.get("rdma_nics", 0)
        if not isinstance(nics, int) or isinstance(nics, bool) or not 0 <= nics <= 64:
            raise FleetError(f"{where}.rdma_nics: expected an integer from 0 to 64, got {nics!r}")
        base = entry.get("name", shape_name or f"{model.lower()}-x{gpus}")
        for k in range(count):
            nodes.append(NodeSpec(f"{base}-{len(nodes):04d}", cpu, mem, gpus, model, shape_name, rdma_nics=nics))
    return Fleet(name=str(data.get("name", path.stem)), nodes=nodes)


def _amount(entry: dict[str, Any], unit_key: str, raw_key: str, where: str, *, default: int,
            scale: int = 1, quantity: Any = None) -> int:
    if raw_key in entry:
        value = entry[raw_key]
        if not isinstance(value, int) or value < 0:
            raise FleetError(f"{where}.{raw_key}: expected a non-negative integer, got {value!r}")
        return value
    if unit_key not in entry:
        return default
    value = entry[unit_key]
    if quantity is not None:
        try:
            q = quantity(str(value))
        except Exception as err:
            raise FleetError(f"{where}.{unit_key}: {err}") from None
        return int(q.as_fraction() / (1024 * 1024))
    if not isinstance(value, (int, float)) or value < 0:
        raise FleetError(f"{where}.{unit_key}: expected a non-negative number, got {value!r}")
    return int(round(value * scale))
