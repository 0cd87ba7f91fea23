"""Container edits for prepared devices: which device nodes and environment a container gets.

What is injected (per CDI device, i.e. only for the devices a container asked for):

* a full GPU: ``/dev/nvidia<minor>``;
* a MIG device: its parent's ``/dev/nvidia<minor>`` plus the GPU-instance and
  compute-instance capability nodes ``/dev/nvidia-caps/nvidia-cap<N>`` (numbers read from
  the driver's ``/proc/driver/nvidia-caps/mig-minors`` table when it exists);
* an MPS share: ``CUDA_MPS_PIPE_DIRECTORY`` and the daemon's pipe and shm directories.

Common to every claim: the control nodes ``/dev/nvidiactl``, ``/dev/nvidia-uvm``,
``/dev/nvidia-uvm-tools`` and ``NVIDIA_VISIBLE_DEVICES=void`` (which tells the legacy NVIDIA
runtime hook to leave injection to CDI). The host driver's libraries, binaries, firmware and
hooks are discovered once from the driver root (``driverfiles``) and added by ``CdiWriter``
to every claim's spec.
"""

from __future__ import annotations

from pathlib import Path

from dra.plugin.backend import MpsDaemon
from dra.plugin.cdi import ContainerEdits

MIG_MINORS = Path("/proc/driver/nvidia-caps/mig-minors")
MPS_PIPE_IN_CONTAINER = "/tmp/nvidia-mps"


def common_edits() -> ContainerEdits:
    return ContainerEdits(
        env=["NVIDIA_VISIBLE_DEVICES=void"],
        device_nodes=[{"path": p} for p in ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools")],
    )


def _mig_cap_minors(table: Path = MIG_MINORS) -> dict[str, int]:
    minors: dict[str, int] = {}
    try:
        for line in table.read_text().splitlines():
            name, _, number = line.partition(" ")
            if number.strip().isdigit():
                minors[name] = int(number)
    except OSError:
        pass
    return minors


def gpu_edits(minor: int) -> ContainerEdits:
    return ContainerEdits(device_nodes=[{"path": f"/dev/nvidia{minor}"}])


def mig_edits(parent_minor: int, gi_id: int, ci_id: int, table: Path = MIG_MINORS) -> ContainerEdits:
    edits = gpu_edits(parent_minor)
    minors = _mig_cap_minors(table)
    for key in (f"gpu{parent_minor}/gi{gi_id}/access", f"gpu{parent_minor}/gi{gi_id}/ci{ci_id}/access"):
        if key in minors:
            edits.device_nodes.append({"path": f"/dev/nvidia-caps/nvidia-cap{minors[key]}"})
    return edits


def mps_edits(daemon: MpsDaemon) -> ContainerEdits:
    return ContainerEdits(
        env=[f"CUDA_MPS_PIPE_DIRECTORY={MPS_PIPE_IN_CONTAINER}"],
        mounts=[
            {"hostPath": daemon.pipe_dir, "containerPath": MPS_PIPE_IN_CONTAINER, "options": ["rbind", "rw"]},
            {"hostPath": daemon.shm_dir, "containerPath": "/dev/shm", "options": ["rbind", "rw"]},
        ],
    )
