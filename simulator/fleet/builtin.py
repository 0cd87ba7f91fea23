"""Built-in modern fleets, made of ``dra.gpu`` node shapes (``dra.gpu.builtin.NODE_SHAPES``).

Each entry is (shape, node count, CPU millicores, memory MiB). GB200 NVL72 trays of one
rack share one NVLink domain (``nvlink_domain``); other nodes are their own domain.
DGX nodes have 8 RDMA NICs (one ConnectX per GPU, as DGX H100/H200/B200 ship), GB200 trays 4;
the inference nodes none (:data:`RDMA_NICS`).
"""

from __future__ import annotations

from dra.gpu.builtin import NODE_SHAPES

from simulator.errors import UnknownNameError
from simulator.fleet.catalog import canonical
from simulator.fleet.model import Fleet, NodeSpec

GIB = 1024

# shape, count, cpu_milli, memory_mib
FLEETS: dict[str, tuple[str, list[tuple[str, int, int, int]]]] = {
    "modern-mix": (
        "a shared LLM platform: DGX H100/H200/B200, one GB200 NVL72 rack, L4 and T4 inference nodes",
        [
            ("dgx-h100", 6, 224000, 2048 * GIB),
            ("dgx-h200", 4, 224000, 2048 * GIB),
            ("dgx-b200", 2, 224000, 2048 * GIB),
            ("gb200-nvl72", 18, 144000, 960 * GIB),
            ("inference-l4", 12, 48000, 192 * GIB),
            ("inference-t4", 8, 48000, 192 * GIB),
        ],
    ),
    "dgx-h100-32": ("32 DGX H100 (256 H100 80GB)", [("dgx-h100", 32, 224000, 2048 * GIB)]),
    "dgx-h200-16": ("16 DGX H200 (128 H200 141GB)", [("dgx-h200", 16, 224000, 2048 * GIB)]),
    "dgx-b200-16": ("16 DGX B200 (128 B200 180GB)", [("dgx-b200", 16, 224000, 4096 * GIB)]),
    "gb200-nvl72-x2": ("two GB200 NVL72 racks (144 GPUs)", [("gb200-nvl72", 36, 144000, 960 * GIB)]),
    "inference-l4-t4": (
        "inference fleet: 24 nodes of 4 L4 and 16 nodes of 4 T4",
        [("inference-l4", 24, 48000, 192 * GIB), ("inference-t4", 16, 48000, 192 * GIB)],
    ),
}

NVL72_TRAYS = 18
RDMA_NICS = {"dgx-h100": 8, "dgx-h200": 8, "dgx-b200": 8, "gb200-nvl72": 4}


def builtin_fleet(name: str) -> Fleet:
    if name not in FLEETS:
        raise UnknownNameError("fleet", name, FLEETS)
    _, entries = FLEETS[name]
    nodes: list[NodeSpec] = []
    for shape_name, count, cpu, mem in entries:
        shape = NODE_SHAPES[shape_name]
        key = canonical(shape.model)
        for i in range(count):
            domain = None
            if shape_name == "gb200-nvl72":
                domain = f"nvl72-rack-{i // NVL72_TRAYS}"
            nodes.append(NodeSpec(f"{shape_name}-{i:03d}", cpu, mem, shape.count, key, shape_name, domain,
                                  RDMA_NICS.get(shape_name, 0)))
    return Fleet(name=name, nodes=nodes)
