"""MPS control daemons as their own workloads: one Deployment per claim group, as NVIDIA does.

Why not a process of the plugin: a DaemonSet container restart (an upgrade, an OOM kill, a
crash) kills every process in the container's cgroup, so a daemon started by the plugin dies
with it and every running MPS client loses its server. NVIDIA's driver therefore creates a
Deployment per claim through the API server (``templates/mps-control-daemon.tmpl.yaml``); so
does this module (``--mps-daemon pod``, the default of the DaemonSet and the chart). The
daemon's pod is pinned to the node (``nodeName``), mounts the host driver root and the claim's
host directories under ``--mps-root`` (the very directories the workload's CDI spec mounts)::

    <mps-root>/<daemon id>/pipe  -> /driver-root/tmp/nvidia-mps   CUDA_MPS_PIPE_DIRECTORY
    <mps-root>/<daemon id>/log   -> /driver-root/var/log/nvidia-mps
    <mps-root>/<daemon id>/shm   -> /dev/shm

and runs ``nvidia-cuda-mps-control -d`` chrooted into the driver root (the host's libraries,
not the image's), applies the claim's limits (default active thread percentage, pinned
device memory per device) through the control pipe, writes ``startup.log`` (its startup
probe) and then follows the control log. The Deployment restarts the daemon if it dies; it
survives the plugin's restarts; the plugin finds it again by its name.

Lifecycle, driven by the plugin's prepare/unprepare (and recorded in the checkpoint through
the device records, ``mps.workload``):

* ``start``: make the host directories, create the Deployment (an existing one is adopted:
  a retried prepare or a restarted plugin), then wait until it reports a ready replica
  (``ready_timeout``); a daemon that does not become ready fails the prepare with its pod's
  reason (image pull, crash...), and the prepare's rollback deletes it;
* ``stop``: delete the Deployment (and its pods, background propagation), tolerate "not
  found", remove the host directories; safe to repeat;
* ``remove_stale``: at start, delete this node's daemon Deployments no kept claim uses.

The name is derived from the daemon id alone (``mps-control-daemon-<claim uid>-<sha5>``), so a
rollback after a crash between "created" and "recorded" still finds it. What this module
cannot prove here: that the daemon image runs ``nvidia-cuda-mps-control`` on a real GPU node
(no GPU, no kubelet in this project's test environment; ``make gpu-check`` on a GPU node).
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import time
from pathlib import Path
from typing import Any

from dra.plugin.backend import BackendError, MpsDaemon, MpsSettings

log = logging.getLogger(__name__)

APP = "dra-mps-control-daemon"
LABEL_APP = "app.kubernetes.io/name"
LABEL_NODE = "resource.nvidia.com/mps-node"
LABEL_CLAIM = "resource.nvidia.com/mps-claim-uid"
ANNOTATION_ID = "resource.nvidia.com/mps-daemon-id"
NAME_PREFIX = "mps-control-daemon-"
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

# The container's script (NVIDIA's, with our settings): chroot into the driver root so the
# daemon runs with the host driver's own libraries; without a shell there (e.g. COS) run the
# binaries from the mount directly.
SCRIPT = """set -e
mkdir -p /driver-root/var/log/nvidia-mps
rm -f /driver-root/var/log/nvidia-mps/startup.log
if [ -x /driver-root/bin/sh ] || [ -x /driver-root/usr/bin/sh ]; then
  RUN="chroot /driver-root sh -c"
else
  export PATH="/driver-root/usr/bin:/driver-root/bin:$PATH"
  export LD_LIBRARY_PATH="/driver-root/lib64:/driver-root/lib:/driver-root/usr/lib64:/driver-root/usr/lib/x86_64-linux-gnu:/driver-root/usr/lib"
  export CUDA_MPS_PIPE_DIRECTORY=/driver-root/tmp/nvidia-mps
  export CUDA_MPS_LOG_DIRECTORY=/driver-root/var/log/nvidia-mps
  RUN="sh -c"
fi
$RUN "nvidia-cuda-mps-control -d"
{settings}echo "startup complete" > /driver-root/var/log/nvidia-mps/startup.log
exec tail -n +1 -f /driver-root/var/log/nvidia-mps/control.log
"""


def deployment_name(daemon_id: str) -> str:
    """``mps-control-daemon-<claim uid>-<sha5 of the daemon id>`` (at most 63 characters)."""
    uid = daemon_id[:36].lower()
    digest = hashlib.sha256(daemon_id.encode()).hexdigest()[:5]
    return f"{NAME_PREFIX}{uid}-{digest}"


def _label_value(text: str) -> str:
    """``text`` when it is a valid label value, else a stable hash of it."""
    if len(text) <= 63 and _LABEL_VALUE.match(text):
        return text
    return "h-" + hashlib.sha256(text.encode()).hexdigest()[:40]


def settings_commands(settings: MpsSettings) -> list[str]:
    """The control-pipe commands that apply a claim's MPS limits."""
    commands = []
    if settings.active_thread_percentage is not None:
        commands.append(f"set_default_active_thread_percentage {int(settings.active_thread_percentage)}")
    for uuid, limit in sorted(settings.pinned_memory_limits.items()):
        if not re.fullmatch(r"(GPU|MIG)-[0-9A-Za-z-]+", uuid):
            raise BackendError(f"MPS pinned memory limit for {uuid!r}: not a device UUID")
        commands.append(f"set_default_device_pinned_mem_limit {uuid} {max(1, int(limit) // (1 << 20))}M")
    return commands


class MpsDaemonPods:
    """Per-claim MPS control daemons as Deployments pinned to this node (see the module docstring)."""

    def __init__(self, api_client: Any, *, namespace: str, node_name: str, root: Path, image: str,
                 driver_root: str = "/", pull_policy: str = "IfNotPresent", ready_timeout: float = 30.0,
                 poll: float = 0.5, priority_class: str | None = None) -> None:
        from kubernetes import client

        self.apps = client.AppsV1Api(api_client)
        self.core = client.CoreV1Api(api_client)
        self.namespace = namespace
        self.node_name = node_name
        self.root = Path(root)
        self.image = image
        self.driver_root = driver_root
        self.pull_policy = pull_policy
        self.ready_timeout = ready_timeout
        self.poll = poll
        self.priority_class = priority_class

    # -- the object ------------------------------------------------------------------------

    def daemon(self, daemon_id: str) -> MpsDaemon:
        base = self.root / daemon_id
        return MpsDaemon(daemon_id, str(base / "pipe"), str(base / "log"), str(base / "shm"),
                         workload=f"deployment/{self.namespace}/{deployment_name(daemon_id)}")

    def _labels(self, daemon_id: str) -> dict[str, str]:
        return {LABEL_APP: APP, LABEL_NODE: _label_value(self.node_name), LABEL_CLAIM: _label_value(daemon_id[:36])}

    def deployment(self, daemon_id: str, gpu_uuids: list[str], settings: MpsSettings) -> dict[str, Any]:
        """The Deployment for one daemon, as a dict (what is sent to the API server)."""
        d = self.daemon(daemon_id)
        name = deployment_name(daemon_id)
        labels = self._labels(daemon_id)
        settings_lines = "".join(f'$RUN "echo {c} | nvidia-cuda-mps-control"\n' for c in settings_commands(settings))
        pod_spec: dict[str, Any] = {
            "nodeName": self.node_name,  # pinned: the daemon serves this node's GPUs
            "hostPID": True,
            "automountServiceAccountToken": False,  # the daemon needs no API access
            "tolerations": [{"operator": "Exists"}],  # GPU nodes are usually tainted
            "containers": [{
                "name": "mps-control-daemon",
                "image": self.image,
                "imagePullPolicy": self.pull_policy,
                "securityContext": {"privileged": True},
                "command": ["sh", "-c"],
                "args": [SCRIPT.format(settings=settings_lines)],
                "env": [{"name": "CUDA_VISIBLE_DEVICES", "value": ",".join(gpu_uuids)}],
                "startupProbe": {"exec": {"command": ["cat", "/driver-root/var/log/nvidia-mps/startup.log"]},
                                 "initialDelaySeconds": 1, "periodSeconds": 1, "failureThreshold": 60},
                "volumeMounts": [
                    {"name": "driver-root", "mountPath": "/driver-root"},
                    {"name": "mps-shm", "mountPath": "/dev/shm"},
                    {"name": "mps-pipe", "mountPath": "/driver-root/tmp/nvidia-mps"},
                    {"name": "mps-log", "mountPath": "/driver-root/var/log/nvidia-mps"},
                ],
            }],
            "volumes": [
                {"name": "driver-root", "hostPath": {"path": self.driver_root, "type": "Directory"}},
                {"name": "mps-shm", "hostPath": {"path": d.shm_dir, "type": "Directory"}},
                {"name": "mps-pipe", "hostPath": {"path": d.pipe_dir, "type": "Directory"}},
                {"name": "mps-log", "hostPath": {"path": d.log_dir, "type": "Directory"}},
            ],
        }
        if self.priority_class:
            pod_spec["priorityClassName"] = self.priority_class
        return {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": self.namespace, "labels": labels,
                         "annotations": {ANNOTATION_ID: daemon_id}},
            "spec": {
                "replicas": 1,
                # never two daemons on one pipe directory: the old pod goes before the new one starts
                "strategy": {"type": "Recreate"},
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels, "annotations": {ANNOTATION_ID: daemon_id}},
                             "spec": pod_spec},
            },
        }

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, daemon_id: str, gpu_uuids: list[str], settings: MpsSettings) -> MpsDaemon:
        from kubernetes.client.rest import ApiException

        d = self.daemon(daemon_id)
        for sub in (d.pipe_dir, d.log_dir, d.shm_dir):
            Path(sub).mkdir(parents=True, exist_ok=True)
        body = self.deployment(daemon_id, gpu_uuids, settings)
        name = body["metadata"]["name"]
        try:
            self.apps.create_namespaced_deployment(self.namespace, body, _request_timeout=10)
            log.info("created MPS control daemon deployment",
                     extra={"daemon": daemon_id, "deployment": name, "namespace": self.namespace, "gpus": gpu_uuids})
        except ApiException as err:
            if err.status != 409:  # 409: a retried prepare or a restarted plugin: adopt it
                raise BackendError(f"MPS daemon {daemon_id}: creating deployment {self.namespace}/{name}: "
                                   f"{err.status} {_reason(err)}") from None
        except Exception as err:  # noqa: BLE001 - transport trouble is a failed prepare, not a crash
            raise BackendError(f"MPS daemon {daemon_id}: creating deployment {self.namespace}/{name}: {err}") from None
        self._wait_ready(daemon_id, name)
        return d

    def _wait_ready(self, daemon_id: str, name: str) -> None:
        from kubernetes.client.rest import ApiException

        deadline = time.monotonic() + self.ready_timeout
        last = "no status yet"
        while True:
            try:
                dep = self.apps.read_namespaced_deployment(name, self.namespace, _request_timeout=10)
                ready = (dep.status.ready_replicas or 0) if dep.status else 0
                if ready >= 1:
                    return
                last = f"{ready} ready replicas"
            except ApiException as err:
                last = f"{err.status} {_reason(err)}"
            except Exception as err:  # noqa: BLE001
                last = str(err)
            if time.monotonic() >= deadline:
                raise BackendError(f"MPS daemon {daemon_id}: deployment {self.namespace}/{name} not ready after "
                                   f"{self.ready_timeout:g}s ({last}{self._pod_reason(daemon_id)})")
            time.sleep(self.poll)

    def _pod_reason(self, daemon_id: str) -> str:
        """Why the daemon's pod is not running, for the prepare's error ("" when unknown)."""
        try:
            selector = ",".join(f"{k}={v}" for k, v in sorted(self._labels(daemon_id).items()))
            pods = self.core.list_namespaced_pod(self.namespace, label_selector=selector, _request_timeout=5).items
        except Exception:  # noqa: BLE001 - only a hint
            return ""
        for pod in pods:
            for cs in (pod.status.container_statuses or []) if pod.status else []:
                waiting = cs.state.waiting if cs.state else None
                if waiting is not None and waiting.reason:
                    return f"; pod {pod.metadata.name}: {waiting.reason}"
            if pod.status is not None and pod.status.phase:
                return f"; pod {pod.metadata.name}: {pod.status.phase}"
        return "; no pod yet"

    def stop(self, daemon_id: str) -> None:
        """Delete the daemon's Deployment and host directories; "not found" is success."""
        from kubernetes.client.rest import ApiException

        name = deployment_name(daemon_id)
        try:
            self.apps.delete_namespaced_deployment(name, self.namespace, propagation_policy="Background",
                                                   _request_timeout=10)
            log.info("deleted MPS control daemon deployment", extra={"daemon": daemon_id, "deployment": name})
        except ApiException as err:
            if err.status != 404:
                raise BackendError(f"MPS daemon {daemon_id}: deleting deployment {self.namespace}/{name}: "
                                   f"{err.status} {_reason(err)}") from None
        except Exception as err:  # noqa: BLE001
            raise BackendError(f"MPS daemon {daemon_id}: deleting deployment {self.namespace}/{name}: {err}") from None
        shutil.rmtree(self.root / daemon_id, ignore_errors=True)

    def daemons(self) -> list[str]:
        """Daemon ids of this node's MPS Deployments (from their annotation)."""
        selector = f"{LABEL_APP}={APP},{LABEL_NODE}={_label_value(self.node_name)}"
        try:
            items = self.apps.list_namespaced_deployment(self.namespace, label_selector=selector,
                                                         _request_timeout=10).items
        except Exception as err:  # noqa: BLE001
            raise BackendError(f"listing MPS daemon deployments in {self.namespace}: {err}") from None
        return sorted((i.metadata.annotations or {}).get(ANNOTATION_ID, "") for i in items
                      if (i.metadata.annotations or {}).get(ANNOTATION_ID))

    def remove_stale(self, keep: set[str]) -> list[str]:
        removed = []
        on_disk = {p.name for p in self.root.iterdir() if p.is_dir()} if self.root.is_dir() else set()
        for daemon_id in sorted(set(self.daemons()) | on_disk):
            if daemon_id not in keep:
                self.stop(daemon_id)
                removed.append(daemon_id)
        return removed


def _reason(err: Any) -> str:
    import json

    try:
        return json.loads(err.body).get("message") or err.reason
    except (TypeError, ValueError, AttributeError):
        return str(err.reason)
