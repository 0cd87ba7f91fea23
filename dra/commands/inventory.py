"""``dra inventory``: print a node's GPUs (from NVML, a recording, or a built-in profile).

    dra inventory                         # this machine, through NVML
    dra inventory --profile dgx-h100      # a built-in node shape (or a YAML profile file)
    dra inventory --profile t4-x4 -o yaml # the inventory as YAML (loadable as a profile)
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
from typing import Any

import yaml

from dra.gpu.inventory import GpuInfo, NodeInventory


def add_source_arguments(parser: argparse.ArgumentParser, *, node_required: bool = False) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--profile", "-p", metavar="P",
                        help="built-in profile name (see --list-profiles), <model>-x<N>, or a YAML file")
    source.add_argument("--replay", metavar="FILE", help="discover from recorded NVML answers")
    source.add_argument("--record", metavar="FILE", help="discover through NVML and save its answers")
    parser.add_argument("--node", "-n", metavar="N", required=node_required,
                        help="node name (default: $NODE_NAME or the host name)")


def default_node_name() -> str:
    return os.environ.get("NODE_NAME") or socket.gethostname().split(".")[0].lower() or "node-0"


def resolve_inventory(args: argparse.Namespace) -> NodeInventory:
    node = args.node or default_node_name()
    if args.profile:
        from dra.gpu.builtin import load_profile

        return load_profile(args.profile, node)
    from dra.gpu import nvml
    from dra.gpu.nvml_calls import PynvmlCalls, RecordedCalls, RecordingCalls

    if args.replay:
        return nvml.discover(node, calls=RecordedCalls.load(args.replay))
    if args.record:
        recorder = RecordingCalls(PynvmlCalls())
        inventory = nvml.discover(node, calls=recorder)
        recorder.save(args.record, note=f"recorded by dra inventory on {node}")
        return inventory
    return nvml.discover(node)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("inventory", help="list the GPUs of a node (NVML or a profile)")
    add_source_arguments(parser)
    parser.add_argument("-o", "--output", choices=("table", "yaml", "json"), default="table")
    parser.add_argument("--list-profiles", action="store_true", help="list built-in profile names")
    parser.set_defaults(func=run)


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f}Gi"


def _mig(gpu: GpuInfo) -> str:
    if not gpu.mig_capable:
        return "-"
    if not gpu.mig_enabled:
        return "off"
    names = [d.profile for d in gpu.mig_devices]
    return "on:" + (",".join(names) if names else "empty")


def table(inventory: NodeInventory) -> str:
    header = ["IDX", "MINOR", "PRODUCT", "ARCH", "CC", "MEMORY", "SMS", "PCI", "NUMA", "MIG",
              "NVLINK-DOMAIN", "UUID"]
    rows = [header]
    for g in inventory.gpus:
        rows.append([
            str(g.index), str(g.minor), g.product_name, g.architecture, g.cuda_compute_capability,
            _gib(g.memory_bytes), str(g.multiprocessors or "-"), g.pci_bus_id,
            "-" if g.numa_node is None else str(g.numa_node), _mig(g), g.nvlink_domain or "-", g.uuid,
        ])
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
        print(table(inventory))
    return 0
