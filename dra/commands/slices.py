"""``dra slices``: print exactly the ResourceSlices the driver would publish for a node.

    dra slices --profile dgx-h100 --node n1 --mode dynamic-mig --k8s-version 1.35 -o yaml
    dra slices --profile gb200-nvl72 --mode whole -o json
    dra slices --replay h100.json --mode static-mig       # from recorded NVML answers

With no ``--profile``/``--replay`` the GPUs of this machine are read through NVML.
``--validate`` also checks the output against our API validation and the Kubernetes
schema of the chosen version and fails (status 1) listing the problems.
"""

from __future__ import annotations

import argparse
import sys

from dra.commands.inventory import add_source_arguments, resolve_inventory
from dra.slices import MODES


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("slices", help="print the ResourceSlices for a node's GPUs")
    add_source_arguments(parser)
    parser.add_argument("--mode", "-m", choices=MODES, default="whole",
                        help="whole GPUs, existing MIG devices, partitionable MIG, or shared GPUs")
    parser.add_argument("--k8s-version", default="1.35", metavar="V",
                        help="Kubernetes version whose limits and slice layout to follow (1.34 or 1.35)")
    parser.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml")
    parser.add_argument("--generation", type=int, default=1, help="pool generation (default 1)")
    parser.add_argument("--driver", default=None, help="driver name (default gpu.nvidia.com)")
    parser.add_argument("--validate", action="store_true",
                        help="check the slices against API validation and the Kubernetes schema")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dra.api.io import dump_json, dump_yaml
    from dra.slices import DRIVER_NAME, build_slices

    inventory = resolve_inventory(args)
    slices = build_slices(inventory, mode=args.mode, k8s_version=args.k8s_version,
                          driver=args.driver or DRIVER_NAME, generation=args.generation)
    sys.stdout.write(dump_yaml(slices) if args.output == "yaml" else dump_json(slices) + "\n")
    if args.validate:
        problems = validation_problems(slices, args.k8s_version)
        for line in problems:
            print(f"invalid: {line}", file=sys.stderr)
        return 1 if problems else 0
    return 0


def validation_problems(slices: list, k8s_version: str) -> list[str]:
    """Our API validation plus the Kubernetes JSON schema, one line per problem."""
    from dra.api.validation import validate
    from dra.testing.schema import schema_errors

    problems = []
    for s in slices:
        name = s.metadata.name if s.metadata else "?"
        for err in validate(s, k8s_version=_minor(k8s_version)):
            problems.append(f"{name}: {err}")
        for err in schema_errors(s.to_dict(), k8s_version):
            problems.append(f"{name}: schema: {err}")
    return problems


def _minor(version: str) -> str:
    from dra.slices.builder import limits_version

    return limits_version(version)
