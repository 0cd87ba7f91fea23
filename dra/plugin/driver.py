"""The whole kubelet plugin of one node: inventory -> slices -> publish -> serve.

:class:`Driver` wires the parts and owns their lifecycle. ``start()`` runs, in order:

0. the device-plugin coexistence check (``coexistence``; refuses before touching anything);
1. inventory (NVML loaded from the driver root, or a built-in profile on a machine without
   GPUs), each GPU's MIG mode reported in MIG modes, the device backend, and the host
   driver's files for CDI (``driverfiles``);
2. the slices for the chosen mode, and the catalog of devices the plugin may prepare;
3. startup recovery of the checkpoint (before anything can be prepared);
4. the gRPC servers (DRA socket, then the registration socket);
5. publishing the slices (the publisher reconciles with the API server; if the server is
   unreachable the plugin still serves and keeps retrying with backoff, unready meanwhile);
6. the health monitor (taints -> republish) and the probe/metrics HTTP endpoint.

``stop()`` (SIGTERM) unregisters and stops serving, letting in-flight calls finish; the
checkpoint is kept, and so are the published slices (the kubelet removes a node's slices if
the driver stays away, exactly as with the Go helper).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

import grpc
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from dra.errors import UserError
from dra.plugin.cdi import CdiWriter
from dra.plugin.checkpoint import CheckpointFile
from dra.plugin.claims import ClaimFetcher
from dra.plugin.devices import DeviceCatalog
from dra.plugin.health import HEALTH_CLEAR_DIR, HealthMonitor, HealthServicer, Taint
from dra.plugin.httpd import ProbeServer
from dra.plugin.metrics import PluginMetrics
from dra.plugin.nodelock import NodeLock
from dra.plugin.protos import dra_v1_pb2, dra_v1_pb2_grpc
from dra.plugin.recovery import RecoveryReport, recover
from dra.plugin.server import PluginServer
from dra.plugin.sockets import DEFAULT_PLUGINS_DIR, DEFAULT_REGISTRAR_DIR, SocketLayout
from dra.plugin.state import DeviceState

log = logging.getLogger(__name__)

MODES = ("whole", "static-mig", "dynamic-mig", "shared")


class DriverConfigError(UserError):
    """Bad plugin settings (flags)."""


@dataclass
class DriverConfig:
    node_name: str
    driver_name: str = "gpu.nvidia.com"
    profile: str | None = None  # built-in profile name or YAML path; None = NVML
    mode: str = "whole"
    k8s_version: str = "1.35"
    # The cluster's gates where they differ from the version's defaults (--feature-gates).
    feature_gates: dict[str, bool] = field(default_factory=dict)
    # device type -> resource -> NodeAllocatableResource (dra.slices.overhead.parse_overhead)
    node_allocatable_overhead: dict = field(default_factory=dict)
    registrar_dir: Path = Path(DEFAULT_REGISTRAR_DIR)
    plugins_dir: Path = Path(DEFAULT_PLUGINS_DIR)
    cdi_root: Path = Path("/var/run/cdi")
    kubeconfig: str | None = None
    http_address: str = "127.0.0.1"
    http_port: int | None = 8080  # None: no probe/metrics endpoint
    # The host's driver root (what CDI specs name) and where it is visible to this process.
    driver_root: str = "/"
    driver_root_mount: Path | None = None  # None: same as driver_root
    # Host directory (mounted at the same path) for per-claim MPS pipe/log/shm directories.
    mps_root: Path = Path("/run/nvidia-dra/mps")
    # "pod": one Deployment per claim group through the API server (outlives the plugin's
    # container, as NVIDIA's driver); "host": a process started by the plugin (mps.py).
    mps_daemon: str = "host"
    namespace: str | None = None  # where the MPS daemon Deployments go (the plugin's own)
    mps_image: str | None = None  # the daemon's image (the chart passes the plugin's own)
    mps_ready_timeout: float = 30.0
    allow_device_plugin_coexistence: bool = False
    device_metadata: bool = False  # KEP-5304 metadata files for containers
    pod_uid: str | None = None
    boot_id: str | None = None  # None: read the kernel's boot id
    health: bool = True
    grpc_workers: int = 16

    @property
    def root_mount(self) -> Path:
        return Path(self.driver_root_mount) if self.driver_root_mount else Path(self.driver_root)

    def check(self) -> None:
        paths = {
            "--registrar-dir": self.registrar_dir, "--plugins-dir": self.plugins_dir,
            "--cdi-root": self.cdi_root, "--driver-root": self.driver_root,
            "--driver-root-mount": self.root_mount, "--mps-root": self.mps_root,
        }
        for flag, value in paths.items():
            if not str(value).startswith("/"):
                raise DriverConfigError(f"{flag}: {str(value)!r} is not an absolute path")
        if not self.node_name:
            raise DriverConfigError("--node-name is required (or set NODE_NAME)")
        if self.mps_daemon not in ("pod", "host"):
            raise DriverConfigError(f"--mps-daemon: {self.mps_daemon!r} is not pod or host")
        if self.mps_daemon == "pod" and not (self.namespace and self.mps_image):
            raise DriverConfigError("--mps-daemon pod needs --namespace and --mps-image (or $NAMESPACE, $MPS_IMAGE)")
        if not 1 <= self.mps_ready_timeout <= 600:
            raise DriverConfigError(f"--mps-ready-timeout: {self.mps_ready_timeout:g} is not between 1 and 600 seconds")
        if self.mode not in MODES:
            raise DriverConfigError(f"--mode: unknown mode {self.mode!r} (one of {', '.join(MODES)})")
        from dra.versions import SUPPORTED_MINORS

        if self.k8s_version not in SUPPORTED_MINORS:
            raise DriverConfigError(
                f"--kubernetes-version: {self.k8s_version!r} is not one of {', '.join(SUPPORTED_MINORS)}")
        self.version()  # unknown gates for this version: one line, before anything starts

    def version(self):
        """The cluster's :class:`dra.versions.KubernetesVersion` (minor plus effective gates)."""
        from dra.versions import KubernetesVersion

        return KubernetesVersion.of(self.k8s_version, self.feature_gates)


def make_api_client(kubeconfig: str | None) -> k8s_client.ApiClient:
    """An official-client ApiClient from a kubeconfig, $KUBECONFIG, or the in-cluster account."""
    configuration = k8s_client.Configuration()
    try:
        if kubeconfig or os.environ.get("KUBECONFIG"):
            k8s_config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
        else:
            k8s_config.load_incluster_config(client_configuration=configuration)
    except (k8s_config.ConfigException, OSError) as err:
        raise DriverConfigError(f"cannot configure the Kubernetes client: {err}") from None
    # Prepare calls from many pods at once each fetch a claim: keep enough connections.
    configuration.connection_pool_maxsize = 32
    return k8s_client.ApiClient(configuration)


class Driver:
    def __init__(self, config: DriverConfig, api_client: k8s_client.ApiClient | None = None) -> None:
        config.check()
        self.config = config
        self.api_client = api_client or make_api_client(config.kubeconfig)
        self.metrics = PluginMetrics(config.driver_name, config.node_name)
        self.layout = SocketLayout(config.driver_name, config.registrar_dir, config.plugins_dir, config.pod_uid)
        self.recovery: RecoveryReport | None = None
        self._published = threading.Event()
        self._publish_pending = threading.Event()
        self._publish_lock = threading.Lock()
        self._desired: list = []
        self._stopped = threading.Event()
        self.server: PluginServer | None = None
        self.monitor: HealthMonitor | None = None
        self.probes: ProbeServer | None = None
        self._overheads = None  # what _report_overhead found publishable

    # -- setup ---------------------------------------------------------------------------

    def _inventory(self):
        if self.config.profile:
            from dra.gpu.builtin import load_profile

            return load_profile(self.config.profile, self.config.node_name)
        from dra.gpu.nvml import discover
        from dra.gpu.nvml_lib import load

        load(self.config.root_mount)  # NVML from the host's driver root (one-line error if absent)
        inventory = discover(self.config.node_name)
        # On real hardware a MIG device can only be made on a GPU whose MIG mode is on: do not
        # publish MIG devices the scheduler could allocate and every prepare would refuse.
        return replace(inventory, gpus=tuple(
            g if g.mig_enabled else replace(g, mig_profiles=(), mig_devices=()) for g in inventory.gpus))

    def _backend(self, inventory):
        uuids = [g.uuid for g in inventory.gpus]
        if self.config.profile:
            from dra.plugin.builtin_backend import BuiltinBackend

            backend = BuiltinBackend(self.layout.driver_dir, uuids)
        else:
            from dra.plugin.nvml_backend import NvmlBackend

            backend = NvmlBackend(self.layout.driver_dir, uuids, mps_root=self.config.mps_root,
                                  driver_root_mount=self.config.root_mount)
        if self.config.mps_daemon != "pod":
            return backend
        from dra.plugin.mps_backend import PodMpsBackend
        from dra.plugin.mps_pods import MpsDaemonPods

        cfg = self.config
        return PodMpsBackend(backend, MpsDaemonPods(
            self.api_client, namespace=cfg.namespace or "", node_name=cfg.node_name, root=cfg.mps_root,
            image=cfg.mps_image or "", driver_root=cfg.driver_root, ready_timeout=cfg.mps_ready_timeout))

    def _metadata_writer(self, slices):
        if not self.config.device_metadata:
            return None
        from dra.plugin.metadata import DeviceMetadataWriter, slice_attributes

        return DeviceMetadataWriter(self.layout.driver_dir, self.config.driver_name, slice_attributes(slices))

    def _cdi_writer(self) -> CdiWriter:
        if self.config.profile:
            return CdiWriter(self.config.cdi_root, self.config.driver_name)
        from dra.plugin.driverfiles import discover

        versions = {g.driver_version for g in self.inventory.gpus}
        files = discover(self.config.driver_root, self.config.root_mount,
                         versions.pop() if len(versions) == 1 else None)
        log.info("host driver files for CDI", extra={
            "driver_root": files.driver_root, "version": files.version, "libraries": len(files.libraries),
            "binaries": len(files.binaries), "firmware": len(files.firmware), "hook": files.hook or files.hook_absent})
        return CdiWriter(self.config.cdi_root, self.config.driver_name, files.container_edits(), files.annotations())

    def _report_mig_modes(self) -> None:
        """In a MIG mode, say per GPU whether it can serve MIG claims (they are refused if not)."""
        if self.config.mode not in ("static-mig", "dynamic-mig"):
            return
        for gpu in self.inventory.gpus:
            if not gpu.mig_capable:
                log.warning("GPU does not support MIG: no MIG devices for it",
                            extra={"uuid": gpu.uuid, "product": gpu.product_name})
            elif not gpu.mig_enabled:
                log.warning("MIG mode is disabled on this GPU: no MIG devices published for it until "
                            "`nvidia-smi -i <uuid> -mig 1`, a GPU reset and a plugin restart",
                            extra={"uuid": gpu.uuid})
            else:
                log.info("MIG mode enabled", extra={"uuid": gpu.uuid, "mig_devices": len(gpu.mig_devices)})

    def _report_overhead(self) -> None:
        from dra.slices.overhead import format_overhead, overhead_blocker

        overheads = self.config.node_allocatable_overhead
        if not overheads:
            return
        why = overhead_blocker(self.config.version())
        if why is None:
            from dra.plugin.node_features import NODE_ALLOCATABLE_FEATURE, declared_features

            declared = declared_features(self.api_client, self.config.node_name)
            if declared is not None and NODE_ALLOCATABLE_FEATURE not in declared:
                why = (f"node {self.config.node_name} does not declare {NODE_ALLOCATABLE_FEATURE} "
                       "(status.declaredFeatures; its kubelet runs without the gate), and the API server "
                       "refuses such slices")
        self._overheads = None if why else overheads
        if why:
            log.warning("--node-allocatable-overhead is not published", extra={"reason": why})
        else:
            log.info("publishing host-resource overhead as nodeAllocatableResources",
                     extra={"overhead": format_overhead(overheads)})

    def build_slices(self, taints: dict[str, list[Taint]] | None = None):
        from dra.slices import build_slices

        return build_slices(
            self.inventory,
            mode=self.config.mode,
            k8s_version=self.config.k8s_version,
            driver=self.config.driver_name,
            taints=_api_taints(taints) if taints else None,
            gates=dict(self.config.version().gates),
            overheads=self._overheads,
        )

    def start(self) -> None:
        cfg = self.config
        from dra.plugin.coexistence import check as check_coexistence

        # Before anything is touched: refuse to hand out GPUs a device plugin also hands out.
        check_coexistence(self.api_client, cfg.node_name, cfg.driver_name, cfg.allow_device_plugin_coexistence)
        self.layout.make_dirs()
        self.inventory = self._inventory()
        self._report_mig_modes()
        self.backend = self._backend(self.inventory)
        self._report_overhead()
        slices = self.build_slices()
        self.catalog = DeviceCatalog.build(self.inventory, slices)
        self.state = DeviceState(
            driver=cfg.driver_name,
            pool=cfg.node_name,
            catalog=self.catalog,
            fetcher=ClaimFetcher(self.api_client),
            backend=self.backend,
            cdi=self._cdi_writer(),
            checkpoint=CheckpointFile(self.layout.driver_dir / "checkpoint.json", cfg.boot_id),
            metrics=self.metrics,
            # With pod-UID sockets another instance may serve this node at the same time.
            node_lock=NodeLock(self.layout.driver_dir / "serialize.lock") if cfg.pod_uid else None,
            metadata=self._metadata_writer(slices),
        )
        with self.state.exclusive():
            self.recovery = recover(self.state, dynamic_mig=cfg.mode == "dynamic-mig")

        from dra.slices.publisher import SlicePublisher

        self.publisher = SlicePublisher(self.api_client, cfg.driver_name, cfg.node_name)
        health_servicer = None
        if cfg.health:
            self.monitor = HealthMonitor(
                self.backend, self.catalog, self._on_taints, allow_none_effect=cfg.k8s_version != "1.34",
                clear_dir=self.layout.driver_dir / HEALTH_CLEAR_DIR,
            )
            health_servicer = HealthServicer(self.monitor, self.catalog, cfg.node_name)
        # Serve first: claims prepared before a restart can be unprepared even while the API
        # server is slow to take the slices (the publisher retries with backoff).
        self.server = PluginServer(self.layout, self.state, self.metrics, health_servicer, cfg.grpc_workers)
        self.server.start()
        self.publish(slices)
        threading.Thread(target=self._publish_retry_loop, name="dra-publish", daemon=True).start()
        if self.monitor is not None:
            self.monitor.start()
        if cfg.http_port is not None:
            self.probes = ProbeServer(cfg.http_address, cfg.http_port, self.metrics.registry, self.live, self.ready)
            self.probes.start()
        log.info(
            "plugin started",
            extra={"node": cfg.node_name, "driver": cfg.driver_name, "mode": cfg.mode,
                   "devices": len(self.catalog.names()), "recovery": self.recovery.summary()},
        )

    def publish(self, slices) -> bool:
        """Publish now; on failure leave it to the background loop (never fatal)."""
        with self._publish_lock:
            self._desired = slices
            try:
                self.publisher.publish(slices)
            except Exception as err:  # noqa: BLE001 - API trouble must not stop the plugin
                self.metrics.publishes.labels(self.config.driver_name, "error").inc()
                log.error("publishing ResourceSlices failed; retrying in the background", extra={"error": str(err)})
                self._publish_pending.set()
                return False
            self.metrics.publishes.labels(self.config.driver_name, "ok").inc()
            self._publish_pending.clear()
            self._published.set()
            return True

    def _publish_retry_loop(self) -> None:
        delay = 1.0
        while not self._stopped.is_set():
            if not self._publish_pending.wait(0.5):
                continue
            if self._stopped.wait(delay):
                return
            if self.publish(self._desired):
                delay = 1.0
            else:
                delay = min(delay * 2, 30.0)

    def _on_taints(self, taints: dict[str, list[Taint]]) -> None:
        counts: dict[str, int] = {}
        for device_taints in taints.values():
            for t in device_taints:
                counts[t.key] = counts.get(t.key, 0) + 1
        self.metrics.set_taints(counts)
        if self.publish(self.build_slices(taints)):
            log.info("republished slices after a health change", extra={"tainted_devices": sorted(taints)})

    # -- probes --------------------------------------------------------------------------

    def live(self) -> tuple[bool, str]:
        try:
            with grpc.insecure_channel(f"unix://{self.layout.dra_socket}") as channel:
                dra_v1_pb2_grpc.DRAPluginStub(channel).NodePrepareResources(
                    dra_v1_pb2.NodePrepareResourcesRequest(), timeout=2.0
                )
            return True, "DRA socket answers"
        except grpc.RpcError as err:
            return False, f"DRA socket does not answer: {err.code().name}"

    def ready(self) -> tuple[bool, str]:
        if self.recovery is None or not self._published.is_set():
            return False, "starting"
        live, detail = self.live()
        if not live:
            return False, detail
        state = self.server.registration.state if self.server else None
        if state is None or state.registered is not True:
            return False, "not registered with the kubelet" + (f": {state.error}" if state and state.error else "")
        return True, "registered, slices published"

    # -- lifecycle -----------------------------------------------------------------------

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self.monitor is not None:
            self.monitor.stop()
        if self.server is not None:
            self.server.stop()
        if self.probes is not None:
            self.probes.stop()
        self.backend.close()
        log.info("plugin stopped; checkpoint kept")

    def wait(self, stop_event: threading.Event) -> None:
        stop_event.wait()
        self.stop()


def _api_taints(taints: dict[str, list[Taint]]):
    from dra.api import DeviceTaint

    return {
        name: [
            DeviceTaint.from_dict(
                {k: v for k, v in {"key": t.key, "value": t.value, "effect": t.effect, "timeAdded": t.time_added}.items() if v is not None}
            )
            for t in device_taints
        ]
        for name, device_taints in taints.items()
    }
