"""``dra slices``: print exactly the ResourceSlices the driver would publish for a node.

    dra slices --profile dgx-h100 --node n1 --mode dynamic-mig --kubernetes-version 1.35 -o yaml
    dra slices --profile gb200-nvl72 --mode whole -o json     # a v1 List
    dra slices --profile t4-x4 -o name                        # resourceslice.resource.k8s.io/...
    dra slices --replay h100.json --mode static-mig           # from recorded NVML answers
    dra slices --profile dgx-h100 --feature-gates DRANodeAllocatableResources=true \
        --node-allocatable-overhead gpu.memory.perPod=256Mi,gpu.memory.perContainer=64Mi

``--feature-gates`` changes the version's defaults as the cluster runs them:
``DRAListTypeAttributes`` publishes ``resource.kubernetes.io/numaNode`` as a one-element
list, ``DRANodeAllocatableResources`` (1.37) lets ``--node-allocatable-overhead`` publish the
GPU's host-memory overhead as ``nodeAllocatableResources`` (elsewhere it is left out, with a
warning on stderr).

With no ``--profile``/``--replay`` the GPUs of this machine are read through NVML.
``--validate`` also checks the output against our API validation and the Kubernetes
schema of the chosen version and fails (status 1) listing the problems.
"""

from __future__ import annotations

import argparse
import re
import sys

from dra.commands.common import add_kubernetes_version_argument, add_output_argument, format_objects, table
from dra.commands.inventory import add_source_arguments, resolve_inventory
from dra.errors import UserError
from dra.slices import MODES

# Upstream's rule for a driver name: a DNS subdomain of at most 63 characters, lower case.
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("slices", help="print the ResourceSlices for a node's GPUs",
                                   description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    add_source_arguments(parser)
    parser.add_argument("--mode", "-m", choices=MODES, default="whole",
                        help="whole GPUs, existing MIG devices, partitionable MIG, or shared GPUs (default whole)")
    add_kubernetes_version_argument(parser, what="limits and slice layout")
    parser.add_argument("--feature-gates", default="", metavar="A=true,B=false",
                        help="feature gates changed from the version's defaults (DRAListTypeAttributes, "
                             "DRANodeAllocatableResources, ...)")
    parser.add_argument("--node-allocatable-overhead", default="", metavar="TYPE.RESOURCE.FIELD=Q,...",
                        help="host resources each device costs its pod, e.g. gpu.memory.perPod=256Mi,"
                             "gpu.memory.perContainer=64Mi (1.37 with DRANodeAllocatableResources)")
    add_output_argument(parser, what="ResourceSlices")
    parser.add_argument("--generation", type=int, default=1, metavar="N",
                        help="pool generation, 0 or more (default 1)")
    parser.add_argument("--driver-name", "--driver", dest="driver", default=None, metavar="NAME",
                        help="driver name, a DNS subdomain of at most 63 characters (default gpu.nvidia.com)")
    parser.add_argument("--validate", action="store_true",
                        help="check the slices against API validation and the Kubernetes schema (exit 1 if invalid)")
    parser.set_defaults(func=run)


def check_driver_name(name: str, option: str = "--driver") -> None:
    if len(name) > 63 or not _DNS_SUBDOMAIN.match(name):
        raise UserError(f"{option}: {name!r} is not a valid driver name: a lowercase DNS subdomain"
                        " of at most 63 characters (e.g. gpu.nvidia.com)")


def run(args: argparse.Namespace) -> int:
    from dra.slices import DRIVER_NAME, build_slices
    from dra.slices.overhead import overhead_blocker, parse_overhead

    if args.driver is not None:
        check_driver_name(args.driver, "--driver-name")
    if args.generation < 0:
        raise UserError(f"--generation: must be 0 or more, got {args.generation}")
    version = slice_version(args.kubernetes_version, args.feature_gates)
    overheads = parse_overhead(args.node_allocatable_overhead)
    inventory = resolve_inventory(args)
    if overheads and (why := overhead_blocker(version)):
        print(f"warning: --node-allocatable-overhead not published: {why}", file=sys.stderr)
    slices = build_slices(inventory, mode=args.mode, k8s_version=args.kubernetes_version,
                          driver=args.driver or DRIVER_NAME, generation=args.generation,
                          gates=dict(version.gates), overheads=overheads)
    sys.stdout.write(format_objects(slices, args.output, wide=_wide))
    if args.validate:
        problems = validation_problems(slices, version)
        for line in problems:
            print(f"invalid: {line}", file=sys.stderr)
        return 1 if problems else 0
    return 0


def _wide(docs: list[dict]) -> str:
    """NAME NODE DRIVER POOL GENERATION DEVICES COUNTER-SETS."""
    rows = [["NAME", "NODE", "DRIVER", "POOL", "GENERATION", "DEVICES", "COUNTER-SETS"]]
    for d in docs:
        spec = d.get("spec") or {}
        pool = spec.get("pool") or {}
        rows.append([d["metadata"]["name"], spec.get("nodeName") or ("<all>" if spec.get("allNodes") else "-"),
                     spec.get("driver", ""), pool.get("name", ""), str(pool.get("generation", "")),
                     str(len(spec.get("devices") or [])), str(len(spec.get("sharedCounters") or []))])
    return table(rows)


def slice_version(k8s_version: str, feature_gates: str = ""):
    """The :class:`KubernetesVersion` (minor plus gates) the slices are built and checked for."""
    from dra.slices.builder import layout_version
    from dra.versions import KubernetesVersion, parse_gate_overrides

    return KubernetesVersion.of(layout_version(k8s_version), parse_gate_overrides(feature_gates))


def validation_problems(slices: list, k8s_version) -> list[str]:
    """Our API validation (for the version and its gates) plus the Kubernetes JSON schema,
    one line per problem."""
    from dra.api.validation import validate
    from dra.testing.schema import schema_errors
    from dra.versions import KubernetesVersion

    version = k8s_version if isinstance(k8s_version, KubernetesVersion) else slice_version(k8s_version)
    problems = []
    for s in slices:
        name = s.metadata.name if s.metadata else "?"
        for err in validate(s, k8s_version=version):
            problems.append(f"{name}: {err}")
        for err in schema_errors(s.to_dict(), version.minor):
            problems.append(f"{name}: schema: {err}")
    return problems
