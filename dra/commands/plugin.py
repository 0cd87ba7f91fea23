"""``dra plugin``: run the kubelet plugin, or inspect its checkpoint.

``dra plugin run --node-name N --driver-name D [--profile P]`` runs the whole driver on a
node: inventory (NVML, or the built-in profile P), ResourceSlice publishing, registration with
the kubelet and the DRA gRPC service. SIGTERM/SIGINT stop it cleanly (checkpoint kept).
Every flag has an environment mirror (shown in ``--help``) for use in a DaemonSet.

``dra plugin checkpoint [--plugins-dir DIR] [--driver-name D]`` prints what the checkpoint
holds, or why it cannot be read (exit 2), which is the first step when recovering a node.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import threading
from pathlib import Path

from dra.errors import UserError
from dra.logs import add_logging_arguments, configure_from_args
from dra.versions import DEFAULT_VERSION


def _env(name: str, default=None):
    return os.environ.get(name, default)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("plugin", help="the kubelet plugin (DRA driver on a node)")
    sub = parser.add_subparsers(dest="plugin_command", metavar="ACTION", required=True)

    run = sub.add_parser("run", help="run the kubelet plugin")
    run.add_argument("--node-name", default=_env("NODE_NAME"), help="this node's name [$NODE_NAME]")
    run.add_argument("--driver-name", default=_env("DRIVER_NAME", "gpu.nvidia.com"),
                     help="DRA driver name (default gpu.nvidia.com) [$DRIVER_NAME]")
    run.add_argument("--profile", default=_env("GPU_PROFILE"),
                     help="built-in GPU profile name or YAML file instead of NVML [$GPU_PROFILE]")
    run.add_argument("--mode", default=_env("DEVICE_MODE", "whole"),
                     help="whole | static-mig | dynamic-mig | shared [$DEVICE_MODE]")
    run.add_argument("--kubernetes-version", dest="k8s_version", default=_env("KUBERNETES_VERSION", DEFAULT_VERSION),
                     help=f"API shape and limits of the slices: 1.34-1.37 (default {DEFAULT_VERSION}) [$KUBERNETES_VERSION]")
    run.add_argument("--feature-gates", default=_env("FEATURE_GATES", ""), metavar="A=true,B=false",
                     help="the cluster's DRA feature gates where they differ from the version's defaults "
                          "(DRAListTypeAttributes: numaNode as a list; DRANodeAllocatableResources: publish "
                          "--node-allocatable-overhead) [$FEATURE_GATES]")
    run.add_argument("--node-allocatable-overhead", default=_env("NODE_ALLOCATABLE_OVERHEAD", ""),
                     metavar="TYPE.RESOURCE.FIELD=Q,...",
                     help="host resources each device costs its pod, e.g. gpu.memory.perPod=256Mi "
                          "(1.37 with DRANodeAllocatableResources) [$NODE_ALLOCATABLE_OVERHEAD]")
    run.add_argument("--kubeconfig", default=_env("KUBECONFIG"), help="default: in-cluster [$KUBECONFIG]")
    run.add_argument("--registrar-dir", default=_env("KUBELET_REGISTRAR_DIRECTORY_PATH", "/var/lib/kubelet/plugins_registry"),
                     help="kubelet plugin registry [$KUBELET_REGISTRAR_DIRECTORY_PATH]")
    run.add_argument("--plugins-dir", default=_env("KUBELET_PLUGINS_DIRECTORY_PATH", "/var/lib/kubelet/plugins"),
                     help="kubelet plugins dir: DRA socket, checkpoint [$KUBELET_PLUGINS_DIRECTORY_PATH]")
    run.add_argument("--cdi-root", default=_env("CDI_ROOT", "/var/run/cdi"),
                     help="where per-claim CDI specs go [$CDI_ROOT]")
    # A string default: argparse converts it (and reports a bad $HTTP_PORT) only for this command.
    run.add_argument("--http-port", type=int, default=_env("HTTP_PORT", "8080"),
                     help="probe and metrics port, -1 to disable [$HTTP_PORT]")
    run.add_argument("--http-address", default=_env("HTTP_ADDRESS", "127.0.0.1"),
                     help="probe and metrics address (default 127.0.0.1; a DaemonSet passes the pod IP) [$HTTP_ADDRESS]")
    run.add_argument("--driver-root", default=_env("NVIDIA_DRIVER_ROOT", "/"),
                     help="the host's NVIDIA driver root, as CDI specs must name it: / or /run/nvidia/driver "
                          "(default /) [$NVIDIA_DRIVER_ROOT]")
    run.add_argument("--driver-root-mount", default=_env("DRIVER_ROOT_MOUNT"),
                     help="where the driver root is visible to this process (default: same as --driver-root) "
                          "[$DRIVER_ROOT_MOUNT]")
    run.add_argument("--mps-root", default=_env("MPS_ROOT", "/run/nvidia-dra/mps"),
                     help="host directory, mounted at the same path, for per-claim MPS pipe/log/shm "
                          "directories (default /run/nvidia-dra/mps) [$MPS_ROOT]")
    run.add_argument("--mps-daemon", choices=("pod", "host"), default=_env("MPS_DAEMON", "host"),
                     help="where MPS control daemons run: pod (one Deployment per claim, pinned to this node, "
                          "outlives plugin restarts; needs --namespace and --mps-image) or host (a process of "
                          "the plugin; dies with its container) (default host) [$MPS_DAEMON]")
    run.add_argument("--namespace", default=_env("NAMESPACE"),
                     help="namespace of the MPS daemon Deployments (the plugin's own) [$NAMESPACE]")
    run.add_argument("--mps-image", default=_env("MPS_IMAGE"),
                     help="image of the MPS daemon pods (the plugin's own image) [$MPS_IMAGE]")
    run.add_argument("--mps-ready-timeout", type=float, default=_env("MPS_READY_TIMEOUT", "30"),
                     help="seconds a prepare waits for its MPS daemon to be ready (default 30) [$MPS_READY_TIMEOUT]")
    run.add_argument("--device-metadata", action="store_true",
                     default=_env("DEVICE_METADATA", "") in ("1", "true"),
                     help="write KEP-5304 device metadata files for containers, mounted through CDI "
                          "[$DEVICE_METADATA]")
    run.add_argument("--allow-device-plugin-coexistence", action="store_true",
                     default=_env("ALLOW_DEVICE_PLUGIN_COEXISTENCE", "") in ("1", "true"),
                     help="start even when a DeviceClass maps an extended resource the node's device plugin "
                          "already reports [$ALLOW_DEVICE_PLUGIN_COEXISTENCE]")
    run.add_argument("--pod-uid", default=_env("POD_UID"),
                     help="enables rolling-update socket names [$POD_UID]")
    run.add_argument("--no-health", action="store_true", help="do not monitor device health")
    add_logging_arguments(run, default_format="json", env=True)
    run.set_defaults(func=_run)

    clear = sub.add_parser("clear-health", help="clear a GPU's health taints (an operator's word that it recovered)")
    clear.add_argument("gpu", help="GPU UUID, or 'all'")
    clear.add_argument("--plugins-dir", default=_env("KUBELET_PLUGINS_DIRECTORY_PATH", "/var/lib/kubelet/plugins"),
                       help="kubelet plugins dir [$KUBELET_PLUGINS_DIRECTORY_PATH]")
    clear.add_argument("--driver-name", default=_env("DRIVER_NAME", "gpu.nvidia.com"), help="[$DRIVER_NAME]")
    clear.set_defaults(func=_clear_health)

    ckpt = sub.add_parser("checkpoint", help="show the plugin's checkpoint (or why it is unreadable)")
    ckpt.add_argument("--plugins-dir", default=_env("KUBELET_PLUGINS_DIRECTORY_PATH", "/var/lib/kubelet/plugins"),
                      help="kubelet plugins dir that holds <driver>/checkpoint.json [$KUBELET_PLUGINS_DIRECTORY_PATH]")
    ckpt.add_argument("--driver-name", default=_env("DRIVER_NAME", "gpu.nvidia.com"),
                      help="DRA driver name (default gpu.nvidia.com) [$DRIVER_NAME]")
    ckpt.add_argument("-o", "--output", choices=("json", "yaml"), default="json",
                      help="output format of the checkpoint summary (default json)")
    ckpt.set_defaults(func=_checkpoint)


def _run(args: argparse.Namespace) -> int:
    from dra.commands.slices import check_driver_name

    # Before grpc is imported: its C core reads GRPC_VERBOSITY once, when it loads.
    configure_from_args(args)
    from dra.plugin.driver import Driver, DriverConfig

    check_driver_name(args.driver_name, "--driver-name")
    for option, value in (("--registrar-dir", args.registrar_dir), ("--plugins-dir", args.plugins_dir),
                          ("--cdi-root", args.cdi_root)):
        # The kubelet dials the sockets by the absolute path we register; a relative one cannot work.
        if not os.path.isabs(value):
            raise UserError(f"{option}: {value!r} is not an absolute path")
    from dra.slices.overhead import parse_overhead
    from dra.versions import parse_gate_overrides

    config = DriverConfig(
        node_name=args.node_name or "",
        driver_name=args.driver_name,
        profile=args.profile,
        mode=args.mode,
        k8s_version=args.k8s_version,
        feature_gates=parse_gate_overrides(args.feature_gates),
        node_allocatable_overhead=parse_overhead(args.node_allocatable_overhead),
        registrar_dir=Path(args.registrar_dir),
        plugins_dir=Path(args.plugins_dir),
        cdi_root=Path(args.cdi_root),
        kubeconfig=args.kubeconfig,
        http_address=args.http_address,
        driver_root=args.driver_root,
        driver_root_mount=Path(args.driver_root_mount) if args.driver_root_mount else None,
        mps_root=Path(args.mps_root),
        mps_daemon=args.mps_daemon,
        namespace=args.namespace,
        mps_image=args.mps_image,
        mps_ready_timeout=args.mps_ready_timeout,
        allow_device_plugin_coexistence=args.allow_device_plugin_coexistence,
        device_metadata=args.device_metadata,
        http_port=None if args.http_port < 0 else args.http_port,
        pod_uid=args.pod_uid,
        boot_id=os.environ.get("DRA_PLUGIN_BOOT_ID"),  # tests simulate reboots with it
        health=not args.no_health,
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    driver = Driver(config)
    try:
        driver.start()
        # Everything built so far (client modules, models, catalog) lives until exit: keep it
        # out of the collector's generations so GC pauses do not land in prepare latency.
        gc.freeze()
        driver.wait(stop)
    finally:
        driver.stop() if driver.server is not None else None
    return 0


def _clear_health(args: argparse.Namespace) -> int:
    import re

    from dra.errors import UserError
    from dra.plugin.health import HEALTH_CLEAR_DIR

    if args.gpu != "all" and not re.fullmatch(r"GPU-[0-9A-Fa-f-]{8,64}", args.gpu):
        raise UserError(f"clear-health: {args.gpu!r} is not a GPU UUID (GPU-...) or 'all'")
    driver_dir = Path(args.plugins_dir) / args.driver_name
    if not driver_dir.is_dir():
        raise UserError(f"clear-health: {driver_dir} does not exist (is the plugin running with --plugins-dir {args.plugins_dir}?)")
    target = driver_dir / HEALTH_CLEAR_DIR
    target.mkdir(exist_ok=True)
    (target / args.gpu).write_text("")
    print(f"asked the plugin to clear the health taints of {args.gpu}")
    return 0


def _checkpoint(args: argparse.Namespace) -> int:
    from dra.plugin.checkpoint import CheckpointCorrupt, CheckpointFile, read_boot_id

    if not Path(args.plugins_dir).is_dir():
        raise UserError(f"--plugins-dir {args.plugins_dir}: no such directory")
    path = Path(args.plugins_dir) / args.driver_name / "checkpoint.json"
    try:
        # boot_id="" shows the claims even when the file is from an earlier boot.
        loaded = CheckpointFile(path, boot_id="").load()
    except CheckpointCorrupt as err:
        raise UserError(
            f"{path}: unreadable checkpoint: {err}; the plugin moves it aside and rebuilds from its CDI specs on start"
        ) from None
    claims = {uid: rec.to_json() for uid, rec in loaded.claims.items()}
    current = read_boot_id()
    status = loaded.status
    if status == "ok" and loaded.boot_id and current and loaded.boot_id != current:
        status = "from an earlier boot (the plugin drops it at start)"
    summary = {"path": str(path), "status": status, "nodeBootID": loaded.boot_id,
               "currentBootID": current, "preparedClaims": claims}
    if args.output == "yaml":
        import yaml

        print(yaml.safe_dump(summary, sort_keys=True), end="")
    else:
        print(json.dumps(summary, indent=2, sort_keys=True))
    return 0
