"""``dra inventory``: print a node's GPUs (from NVML, a recording, or a built-in profile).

    dra inventory                         # this machine, through NVML
    dra inventory --profile dgx-h100      # a built-in node shape (or a YAML profile file)
    dra inventory --profile t4-x4 -o yaml # the inventory as YAML (loadable as a profile)
    dra inventory --profile t4-x4 -o wide # the table with PCI bus ids and UUIDs
    dra inventory --record h100.json      # NVML, and save every NVML answer for replay
    dra inventory --replay h100.json      # the same discovery against saved answers
    dra inventory --list-profiles

The source options are shared with ``dra slices`` (see :func:`add_source_arguments`).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

import yaml

from dra.commands.common import check_output_path, check_text_file, quantity
from dra.errors import UserError
from dra.gpu.inventory import GpuInfo, NodeInventory

# Most GPUs one node holds (HGX boards and DGX systems have 8; 16 leaves room for 2x8 chassis).
MAX_GPUS_PER_NODE = 16


def add_source_arguments(parser: argparse.ArgumentParser, *, node_required: bool = False) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--profile", "-p", metavar="P",
                        help="built-in profile name (see --list-profiles), <model>-x<N> with N from 1 to"
                             f" {MAX_GPUS_PER_NODE}, or a YAML profile file")
    source.add_argument("--replay", metavar="FILE", help="discover from recorded NVML answers (a JSON file)")
    source.add_argument("--record", metavar="FILE", help="discover through NVML and save its answers to FILE")
    parser.add_argument("--node-name", "--node", "-n", dest="node", metavar="N", required=node_required,
                        help="node name (default: $NODE_NAME or the host name)")


def default_node_name() -> str:
    return os.environ.get("NODE_NAME") or socket.gethostname().split(".")[0].lower() or "node-0"


def resolve_inventory(args: argparse.Namespace) -> NodeInventory:
    node = args.node or default_node_name()
    if args.profile:
        from dra.gpu.builtin import load_profile

        if Path(args.profile).exists():
            check_text_file(Path(args.profile), what="profile file")
        inventory = load_profile(args.profile, node)
        count = len(inventory.gpus)
        if not 1 <= count <= MAX_GPUS_PER_NODE:
            raise UserError(f"--profile {args.profile}: {count} GPUs in one node; a node profile has 1 to"
                            f" {MAX_GPUS_PER_NODE} GPUs")
        return inventory
    from dra.gpu import nvml
    from dra.gpu.nvml_calls import PynvmlCalls, RecordedCalls, RecordingCalls

    if args.replay:
        check_text_file(Path(args.replay), what="NVML recording") if Path(args.replay).exists() else None
        return nvml.discover(node, calls=RecordedCalls.load(args.replay))
    if args.record:
        check_output_path(args.record, option="--record")  # before talking to NVML
        recorder = RecordingCalls(PynvmlCalls())
        inventory = nvml.discover(node, calls=recorder)
        recorder.save(args.record, note=f"recorded by dra inventory on {node}")
        return inventory
    return nvml.discover(node)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("inventory", help="list the GPUs of a node (NVML or a profile)")
    add_source_arguments(parser)
    parser.add_argument("-o", "--output", choices=("table", "wide", "yaml", "json"), default="table",
                        help="table (default), wide (adds PCI bus id and UUID), yaml (loadable as a"
                             " profile; memoryBytes in bytes) or json")
    parser.add_argument("--list-profiles", action="store_true", help="list built-in profile names")
    parser.set_defaults(func=run)


def _memory(n: int) -> str:
    """Canonical quantity, as kubectl prints capacities (``80Gi``, ``81559Mi``)."""
    return quantity(n)


def _mig(gpu: GpuInfo) -> str:
    if not gpu.mig_capable:
        return "-"
    if not gpu.mig_enabled:
        return "off"
    names = [d.profile for d in gpu.mig_devices]
    return "on:" + (",".join(names) if names else "empty")


def table(inventory: NodeInventory, wide: bool = True) -> str:
    header = ["IDX", "MINOR", "PRODUCT", "ARCH", "CC", "MEMORY", "SMS", "PCI", "NUMA", "MIG",
              "NVLINK-DOMAIN", "UUID"]
    rows = [header]
    for g in inventory.gpus:
        rows.append([
            str(g.index), str(g.minor), g.product_name, g.architecture, g.cuda_compute_capability,
            _memory(g.memory_bytes), str(g.multiprocessors or "-"), g.pci_bus_id,
            "-" if g.numa_node is None else str(g.numa_node), _mig(g), g.nvlink_domain or "-", g.uuid,
        ])
    if not wide:
        rows = [[c for i, c in enumerate(r) if header[i] not in ("PCI", "UUID")] for r in rows]
        header = rows[0]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    first = inventory.gpus[0] if inventory.gpus else None
    summary = f"node {inventory.node_name}: {len(inventory.gpus)} GPU(s)"
    if first:
        summary += f", driver {first.driver_version}, CUDA {first.cuda_driver_version}"
    if inventory.nvlink_groups:
        summary += ", NVLink groups " + " ".join("[" + ",".join(map(str, g)) + "]" for g in inventory.nvlink_groups)
    profiles = {p.name: p.max_instances for g in inventory.gpus for p in g.mig_profiles}
    tail = []
    if profiles:
        tail.append("MIG profiles: " + ", ".join(f"{n} x{c}" for n, c in profiles.items()))
    return "\n".join([summary, *lines, *tail])


def run(args: argparse.Namespace) -> int:
    if args.list_profiles:
        from dra.gpu.builtin import NODE_SHAPES, profile_names

        for name in profile_names():
            shape = NODE_SHAPES.get(name)
            print(f"{name:20s} {shape.description if shape else '<model>-x<N>: N GPUs of that model'}")
        return 0
    inventory = resolve_inventory(args)
    data: Any = inventory.to_dict()
    if args.output == "yaml":
        sys.stdout.write(yaml.safe_dump(data, sort_keys=False))
    elif args.output == "json":
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        print(table(inventory, wide=args.output == "wide"))
    return 0
