"""RDMA NICs on fleet nodes: the devices a network DRA driver publishes, and their use.

A node with ``NodeSpec.rdma_nics = N`` has N RDMA NICs, spread round-robin over the distinct
PCIe roots of its GPUs (sorted; a DGX H100 has one ConnectX-7 per GPU, two per PCIe switch).
Under DRA they are published as a second driver's pool, modelled on DraNet (``dra.net``), the
RDMA/network DRA driver whose devices carry the standard ``resource.kubernetes.io/pcieRoot``
attribute so that claims can align a NIC with a GPU:

- device ``nic-<k>``: attributes ``resource.kubernetes.io/pcieRoot`` (the root it sits under)
  and ``dra.net/rdma: true``; ``allowMultipleAllocations`` with one consumable capacity
  ``rdma`` = 1000 (milli-NIC, the unit of the DLRM trace's ``rdma_request`` percentage x10),
  default request the whole NIC;
- DeviceClass ``rdma.dra.net`` selects them.

A GPU pod asking for RDMA gets one claim with two requests, ``gpu`` and ``nic`` (capacity
``rdma: <milli>``), and ``matchAttribute: resource.kubernetes.io/pcieRoot`` over both -- the
allocator then only pairs a GPU with a NIC under the same PCIe root (GPUDirect RDMA without
crossing the CPU's root complex). A CPU-only pod asking for RDMA gets a claim with the ``nic``
request alone (any NIC of the node), and on a fleet with NICs it runs only where one has room. A device plugin has counts only (``rdma/hca_shared_devices``
style): a node total, no alignment; :class:`NicCounts` is that model and counts the pods whose
NIC share could not have been taken under their GPU's root (``rdma_unaligned``).

:class:`NicState` is one node's NICs in the DRA index: root per NIC, free milli per NIC, and per
GPU the NICs under its root.
"""

from __future__ import annotations

from typing import Any

NIC_DRIVER = "dra.net"
NIC_CLASS = "rdma.dra.net"
NIC_REQUEST = "nic"
PCIE_ROOT = "resource.kubernetes.io/pcieRoot"
NIC_UNITS = 1000


def nic_roots(gpu_roots: list[str | None], count: int) -> list[str]:
    """The PCIe root of each of ``count`` NICs: round-robin over the GPUs' distinct roots."""
    roots = sorted({r for r in gpu_roots if r})
    if not roots:
        roots = ["pci0000:00"]
    return [roots[k % len(roots)] for k in range(count)]


_roots_of_shape: dict[tuple, list[str | None]] = {}


def gpu_pcie_roots(spec: Any) -> list[str | None]:
    """The PCIe root of each GPU of a fleet node, as ``dra.gpu`` builds its inventory."""
    key = (spec.model, spec.gpu_count, spec.profile)
    found = _roots_of_shape.get(key)
    if found is None:
        from dra.gpu.builtin import build_node, load_profile

        inv = load_profile(spec.profile, "n") if spec.profile else build_node(spec.model, spec.gpu_count, "n")
        found = _roots_of_shape[key] = [g.pcie_root for g in inv.gpus]
    return found


def nic_device_class() -> Any:
    from dra.api import DeviceClass

    return DeviceClass.from_dict({
        "apiVersion": "resource.k8s.io/v1", "kind": "DeviceClass", "metadata": {"name": NIC_CLASS},
        "spec": {"selectors": [{"cel": {"expression":
                                        f"device.driver == '{NIC_DRIVER}' && device.attributes['{NIC_DRIVER}'].rdma == true"}}]},
    })


def build_nic_slices(node_name: str, roots: list[str]) -> list[Any]:
    """The network driver's pool for one node: one slice with its NICs."""
    from dra.api import ResourceSlice

    devices = [{
        "name": f"nic-{k}",
        "attributes": {PCIE_ROOT: {"string": root}, "rdma": {"bool": True}},
        "capacity": {"rdma": {"value": str(NIC_UNITS), "requestPolicy": {
            "default": str(NIC_UNITS), "validRange": {"min": "1", "max": str(NIC_UNITS), "step": "1"}}}},
        "allowMultipleAllocations": True,
    } for k, root in enumerate(roots)]
    return [ResourceSlice.from_dict({
        "apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice",
        "metadata": {"name": f"{node_name}-{NIC_DRIVER}"},
        "spec": {"driver": NIC_DRIVER, "nodeName": node_name,
                 "pool": {"name": node_name, "generation": 1, "resourceSliceCount": 1}, "devices": devices},
    })]


class NicState:
    """One node's NICs: root and free milli per NIC, and the NICs under each GPU's root."""

    __slots__ = ("names", "index_of", "free", "of_gpu")

    def __init__(self, roots: list[str], gpu_roots: list[str | None]) -> None:
        self.names = [f"nic-{k}" for k in range(len(roots))]
        self.index_of = {n: k for k, n in enumerate(self.names)}
        self.free = [NIC_UNITS] * len(roots)
        self.of_gpu = [tuple(k for k, r in enumerate(roots) if r == g) for g in gpu_roots]

    def gpu_ok(self, i: int, milli: int) -> bool:
        """Whether a NIC under GPU ``i``'s root has ``milli`` free."""
        return self.with_room(milli, i) is not None

    def with_room(self, milli: int, gpu: int | None = None) -> int | None:
        """The first NIC with ``milli`` free (under GPU ``gpu``'s root when given), or None."""
        free = self.free
        return next((k for k in (self.of_gpu[gpu] if gpu is not None else range(len(free))) if free[k] >= milli),
                    None)

    def alignment(self, nic: int, gpu: int | None) -> str:
        """The ``rdma_*`` counter a share of NIC ``nic`` goes to: ``cpu_only`` without a GPU,
        ``aligned`` when the NIC sits under GPU ``gpu``'s PCIe root, else ``unaligned``."""
        if gpu is None:
            return "cpu_only"
        return "aligned" if nic in self.of_gpu[gpu] else "unaligned"

    def take(self, name: str, milli: int) -> None:
        self.free[self.index_of[name]] -= milli

    def give(self, name: str, milli: int) -> None:
        self.free[self.index_of[name]] += milli


class NicCounts:
    """The device plugin's view: a node's NIC shares as one count (an extended resource of
    ``N x 1000`` units), and what alignment it missed.

    The scheduler checks the node total only; the units a pod gets are taken from the node's
    NICs in order (the device plugin knows no PCIe root), and the pod is *aligned* only when
    every NIC it got sits under its first GPU's root."""

    def __init__(self) -> None:
        self.free: dict[int, list[int]] = {}
        self.roots: dict[int, list[str]] = {}
        self.gpu_roots: dict[int, list[str | None]] = {}

    def add_node(self, idx: int, roots: list[str], gpu_roots: list[str | None]) -> None:
        self.free[idx] = [NIC_UNITS] * len(roots)
        self.roots[idx] = roots
        self.gpu_roots[idx] = gpu_roots

    def total_free(self, idx: int) -> int:
        return sum(self.free.get(idx, ()))

    def fits(self, idx: int, milli: int) -> bool:
        return self.total_free(idx) >= milli

    def take(self, idx: int, milli: int, gpus: tuple[int, ...]) -> tuple[list[tuple[int, int]], bool]:
        """(the (NIC, units) taken, aligned with the first GPU's PCIe root)."""
        free, taken, left = self.free[idx], [], milli
        for k, f in enumerate(free):
            if left and f:
                amount = min(f, left)
                free[k] -= amount
                left -= amount
                taken.append((k, amount))
        gpu_root = self.gpu_roots[idx][gpus[0]] if gpus else None
        aligned = gpu_root is not None and all(self.roots[idx][k] == gpu_root for k, _ in taken)
        return taken, aligned

    def give(self, idx: int, taken: list[tuple[int, int]]) -> None:
        for k, amount in taken:
            self.free[idx][k] += amount
