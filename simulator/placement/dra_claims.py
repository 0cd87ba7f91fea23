"""The ResourceClaim the DRA placement model makes for a pod, as the API object's dict.

One request ``gpu``: a fraction of a GPU as a ``shared.gpu.nvidia.com`` claim with
``capacity.requests`` (``compute`` in milli-GPU and, when the pod states it, ``memory``); whole
GPUs as ``gpu.nvidia.com`` with ``count``; allowed models, a GPU-memory floor, a gang's NVLink
clique and the policy's chosen GPUs as CEL selectors; a MIG profile as ``firstAvailable`` (a MIG
device of the profile, else the same share of a shared GPU); multi-GPU NVLink pods and gangs with
``matchAttribute`` constraints; an RDMA NIC share as a second request aligned on the GPUs' PCIe
root (a CPU-only pod's NIC share as the claim's only request, on any NIC). Share claims carry the opaque ``GpuConfig`` the driver applies (MPS limits or time-slicing).
Pure: the same demand gives the same claim.
"""

from __future__ import annotations

from typing import Any

from simulator.fleet.catalog import model as catalog_model
from simulator.placement.nics import NIC_CLASS, NIC_REQUEST, PCIE_ROOT
from simulator.state import Demand

GPU_REQUEST = "gpu"
CONFIG_API = "resource.nvidia.com/v1beta1"  # the opaque config group of NVIDIA's driver and ours


def claim_dict(d: Demand, *, driver: str, sharing: str, with_nic: bool, pins: tuple[int, ...] | None = None,
               name: str = "pod-gpu") -> dict:
    """The ResourceClaim (as a dict) for demand ``d`` on ``driver``'s devices: see the module
    docstring; ``with_nic``: also one RDMA NIC share under the GPUs' PCIe root; ``pins``: the
    GPU indices a scoring policy chose, as one more selector."""
    dom = driver
    if d.count == 0:  # a CPU-only pod: its NIC share alone, on any NIC of the node
        if not with_nic:
            raise ValueError(f"claim {name}: a CPU-only pod has no claim unless it asks for an RDMA NIC share")
        return _claim(name, {"requests": [_nic_request(d)]})
    share = d.count == 1 and d.milli < 1000
    selectors = []
    if d.models:
        products = sorted({catalog_model(m).product_name for m in d.models if catalog_model(m)})
        listed = ", ".join(repr(p) for p in products)
        selectors.append(f"device.attributes['{dom}'].productName in [{listed}]")
    if d.gpu_mem:
        selectors.append(f"device.capacity['{dom}'].memory.compareTo(quantity('{d.gpu_mem}Mi')) >= 0")
    if d.clique:  # a gang member: the NVLink clique (ComputeDomain) its gang was given
        selectors.append(f"device.attributes['{dom}'].cliqueId == '{d.clique}'")
    if pins:
        selectors.append(f"device.attributes['{dom}'].index in [{', '.join(str(i) for i in pins)}]")
    exactly: dict[str, Any] = {
        "deviceClassName": "shared.gpu.nvidia.com" if share else "gpu.nvidia.com",
        "allocationMode": "ExactCount",
        "count": d.count,
    }
    if selectors:
        exactly["selectors"] = [{"cel": {"expression": e}} for e in selectors]
    if share:
        requests = {"compute": str(d.milli)}
        if d.mem_request:
            requests["memory"] = f"{d.mem_request}Mi"
        exactly["capacity"] = {"requests": requests}
    if d.mig and share:
        # A MIG profile first (an existing or partitionable MIG device of that profile),
        # else the same share of a shared GPU: DRAPrioritizedList's firstAvailable.
        mig_selectors = [{"cel": {"expression": f"device.attributes['{dom}'].profile == '{d.mig}'"}}]
        mig_selectors += [{"cel": {"expression": e}} for e in selectors]
        share_alt = {"name": "share", **exactly}
        request = {"name": GPU_REQUEST, "firstAvailable": [
            {"name": "mig", "deviceClassName": "mig.nvidia.com", "allocationMode": "ExactCount", "count": 1,
             "selectors": mig_selectors},
            share_alt,
        ]}
    else:
        request = {"name": GPU_REQUEST, "exactly": exactly}
    devices: dict[str, Any] = {"requests": [request]}
    if share:
        # What the driver applies on a shared GPU (dra/plugin/config.py's GpuConfig): MPS
        # with the pod's compute share as active-thread percentage and, when it states its
        # GPU memory, that as pinned-memory limit; or time-slicing, which limits nothing.
        target = f"{GPU_REQUEST}/share" if "firstAvailable" in request else GPU_REQUEST
        devices["config"] = [{"requests": [target],
                              "opaque": {"driver": dom, "parameters": sharing_config(d, sharing)}}]
    constraints = []
    if with_nic:  # a NIC share under the same PCIe root as the GPUs
        devices["requests"].append(_nic_request(d))
        constraints.append({"requests": [GPU_REQUEST, NIC_REQUEST], "matchAttribute": PCIE_ROOT})
    if d.nvlink and d.count > 1:
        constraints.append({"requests": [GPU_REQUEST], "matchAttribute": f"{dom}/nvlinkDomain"})
    if d.clique:
        constraints.append({"requests": [GPU_REQUEST], "matchAttribute": f"{dom}/cliqueId"})
    if constraints:
        devices["constraints"] = constraints
    return _claim(name, devices)


def _nic_request(d: Demand) -> dict:
    """A share of one RDMA NIC (``rdma`` capacity in milli-NIC)."""
    return {"name": NIC_REQUEST, "exactly": {
        "deviceClassName": NIC_CLASS, "allocationMode": "ExactCount", "count": 1,
        "capacity": {"requests": {"rdma": str(d.rdma_milli)}}}}


def _claim(name: str, devices: dict) -> dict:
    return {
        "apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"devices": devices},
    }


def sharing_config(d: Demand, sharing_mode: str) -> dict:
    """The opaque ``GpuConfig`` a share claim carries (written as data: the simulator does not
    import the plugin; tests decode it with the plugin's own schema)."""
    if sharing_mode == "time-slicing":
        sharing: dict[str, Any] = {"strategy": "TimeSlicing", "timeSlicingConfig": {"interval": "Default"}}
    else:
        mps: dict[str, Any] = {"defaultActiveThreadPercentage": max(1, -(-d.milli // 10))}
        if d.mem_request:
            mps["defaultPinnedDeviceMemoryLimit"] = f"{d.mem_request}Mi"
        sharing = {"strategy": "MPS", "mpsConfig": mps}
    return {"apiVersion": CONFIG_API, "kind": "GpuConfig", "sharing": sharing}
