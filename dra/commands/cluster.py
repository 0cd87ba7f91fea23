"""``dra cluster``: a real Kubernetes control plane with a GPU fleet and no kubelets.

    dra cluster up --kubernetes-version 1.37 --fleet dgx-h100:4,gb200-nvl72:1 [--all-gates] [--dir DIR]
    export KUBECONFIG=DIR/admin.kubeconfig
    kubectl get resourceslices
    dra cluster status [--dir DIR]
    dra cluster down [--dir DIR]

``up`` builds upstream etcd, kube-apiserver, kube-controller-manager and kube-scheduler from
their Go modules (once; cached under ``${DRA_GPU_CACHE:-~/.cache/dra-gpu}``), starts them on
127.0.0.1, creates one Node per fleet entry and publishes its ResourceSlices with the
driver's own publisher. The processes keep running after ``up`` returns (state, logs and
kubeconfig in DIR); ``down`` stops them. Pods with ResourceClaims are really scheduled by
kube-scheduler's DRA plugin; they stay Pending on their node, as there is no kubelet.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from dra.errors import UserError
from dra.versions import DEFAULT_VERSION, KubernetesVersion, parse_gate_overrides

DEFAULT_FLEET = "dgx-h100:2"
DESCRIPTION = ("Run a real Kubernetes control plane (upstream etcd, kube-apiserver, kube-controller-manager, "
               "kube-scheduler) with a GPU fleet of Node objects and their ResourceSlices, no kubelets.")


def _default_dir() -> Path:
    from dra.testing.cluster.build import cache_root

    return cache_root() / "cluster"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("cluster", help="run a real Kubernetes control plane with a GPU fleet (no kubelets)",
                                    description=DESCRIPTION)
    sub = parser.add_subparsers(dest="cluster_command", metavar="ACTION")
    up = sub.add_parser("up", help="build (once) and start the control plane, create the fleet, detach")
    up.add_argument("--kubernetes-version", default=DEFAULT_VERSION, metavar="V",
                    help=f"Kubernetes minor to run: 1.34|1.35|1.36|1.37 (default {DEFAULT_VERSION})")
    up.add_argument("--feature-gates", default="", metavar="A=true,B=false",
                    help="DRA feature gates to change from the version's defaults")
    up.add_argument("--all-gates", action="store_true",
                    help="turn every DRA feature gate of the version on (and serve resource.k8s.io beta/alpha versions)")
    up.add_argument("--fleet", default=DEFAULT_FLEET, metavar="PROFILE[:COUNT[:MODE]],...",
                    help=f"GPU nodes to create, e.g. dgx-h100:4,gb200-nvl72:1 or dgx-h100-mig:2:static-mig "
                         f"(default {DEFAULT_FLEET}; profiles: `dra inventory --help`)")
    _dir_option(up)
    down = sub.add_parser("down", help="stop a control plane started by `dra cluster up`")
    _dir_option(down)
    down.add_argument("--purge", action="store_true", help="also delete DIR (logs, certificates, etcd data)")
    status = sub.add_parser("status", help="show the components, nodes and ResourceSlices of a running cluster")
    _dir_option(status)
    parser.set_defaults(func=run, _parser=parser)


def _dir_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", type=Path, default=None,
                   help="where the cluster's state, logs and kubeconfig live (default ${DRA_GPU_CACHE:-~/.cache/dra-gpu}/cluster)")


def run(args: argparse.Namespace) -> int:
    action = getattr(args, "cluster_command", None)
    if action is None:
        args._parser.print_help()
        return 2
    directory = (args.dir or _default_dir()).expanduser().resolve()
    return {"up": _up, "down": _down, "status": _status}[action](args, directory)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _running(directory: Path) -> bool:
    from dra.testing.cluster.controlplane import ControlPlane

    if not (directory / "state.json").exists():
        return False
    try:
        return any(ControlPlane.load(directory).running().values())
    except (OSError, ValueError, KeyError):
        return False


def _up(args: argparse.Namespace, directory: Path) -> int:
    from dra.testing.cluster import build
    from dra.testing.cluster.controlplane import ComponentError, ControlPlane, remove_dir
    from dra.testing.cluster.fleet import create_fleet, parse_fleet

    if args.all_gates and args.feature_gates:
        raise UserError("--all-gates and --feature-gates: give one or the other")
    version = (KubernetesVersion.all_gates_on(args.kubernetes_version) if args.all_gates
               else KubernetesVersion.of(args.kubernetes_version, parse_gate_overrides(args.feature_gates)))
    nodes = parse_fleet(args.fleet)
    if _running(directory):
        raise UserError(f"--dir: a cluster is already running in {directory} (stop it: dra cluster down --dir {directory})")
    if directory.exists() and any(directory.iterdir()):
        if not (directory / "state.json").exists():
            raise UserError(f"--dir: {directory} is not empty and holds no dra cluster; choose another directory")
        remove_dir(directory)  # a stopped cluster's leftovers: start from scratch
    t0 = time.monotonic()
    try:
        binaries = build.ensure_binaries(version.minor, progress=_say)
    except (build.GoMissing, build.BuildError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    _say(f"starting Kubernetes v{binaries.version} control plane in {directory}"
         + (" (every DRA gate on)" if args.all_gates else ""))
    cp = ControlPlane(directory, version, binaries, all_gates=args.all_gates)
    try:
        cp.start(progress=_say)
        _say(f"creating {len(nodes)} node(s) and publishing their ResourceSlices")
        count = create_fleet(cp.api_client(), nodes, version.minor, progress=_say)
    except ComponentError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except BaseException:
        cp.stop()
        raise
    _say(f"cluster up in {time.monotonic() - t0:.0f}s: {len(nodes)} node(s), {count} ResourceSlice(s); "
         f"logs in {directory / 'logs'}; stop with: dra cluster down --dir {directory}")
    print(f"kubeconfig: {cp.kubeconfig}")
    print(f"export KUBECONFIG={cp.kubeconfig}")
    return 0


def _down(args: argparse.Namespace, directory: Path) -> int:
    from dra.testing.cluster.controlplane import ControlPlane, remove_dir

    if not (directory / "state.json").exists():
        raise UserError(f"--dir: no cluster in {directory} (nothing to stop)")
    cp = ControlPlane.load(directory)
    names = [n for n, alive in cp.running().items() if alive]
    cp.stop()
    _say(f"stopped {', '.join(names) if names else 'nothing (no component was running)'}")
    if args.purge:
        remove_dir(directory)
        _say(f"removed {directory}")
    return 0


def _status(args: argparse.Namespace, directory: Path) -> int:
    from dra.testing.cluster.controlplane import ControlPlane

    if not (directory / "state.json").exists():
        raise UserError(f"--dir: no cluster in {directory} (start one: dra cluster up)")
    cp = ControlPlane.load(directory)
    state = json.loads((directory / "state.json").read_text())
    running = cp.running()
    print(f"Kubernetes v{state['patch']} in {directory}" + (" (every DRA gate on)" if state["all_gates"] else ""))
    for name, alive in running.items():
        print(f"  {name:<24} {'running' if alive else 'stopped'}  log {cp.log(name)}")
    if not running.get("kube-apiserver"):
        return 1
    from kubernetes import client

    api = cp.api_client()
    nodes = client.CoreV1Api(api).list_node(_request_timeout=10).items
    slices = client.ResourceV1Api(api).list_resource_slice(_request_timeout=10).items
    per_node: dict[str, int] = {}
    for s in slices:
        per_node[s.spec.node_name or "-"] = per_node.get(s.spec.node_name or "-", 0) + 1
    print(f"  {len(nodes)} node(s), {len(slices)} ResourceSlice(s)")
    for n in nodes:
        print(f"    {n.metadata.name:<28} {per_node.get(n.metadata.name, 0)} slice(s)")
    print(f"export KUBECONFIG={cp.kubeconfig}")
    return 0 if all(running.values()) else 1
