"""The DRA placement model's per-node index and per-shape device pools.

:class:`DraNode` mirrors, per device of one node, what the allocator's results took: free
compute (the NodeState's ``gpu_free``), free memory, exclusive use. :class:`ShapePool` holds
the slices and the allocator of one node shape, shared by every node of that shape;
:attr:`DraNode.state` translates a node's allocations into that pool so the shared allocator
answers for it. See :mod:`simulator.placement.dra`.
"""

from __future__ import annotations

from typing import Any


class ShapePool:
    """The devices of one node shape, published once: the slices of the shape's first node,
    the allocator over them, and that node's ``Node`` object (all built on first use).

    Nodes of one shape publish the same devices; only the pool (node) name differs. The
    allocator's answer is a function of the devices, the allocated state and the claim, so
    every node of the shape is asked through this one pool with its own state translated
    into it (:attr:`DraNode.state`) -- one allocator and one set of slices per shape instead
    of per node."""

    __slots__ = ("pool", "build", "slices", "allocator", "node_obj", "ids")

    def __init__(self, pool: str, build: Any) -> None:
        self.pool = pool  # the representative node's name (build_slices names pools after nodes)
        self.build = build  # () -> its slices
        self.slices: list[Any] | None = None
        self.allocator: Any = None
        self.node_obj: Any = None
        self.ids: dict[str, Any] = {}  # device name -> DeviceID in this pool


class DraNode:
    """The index of one node: what its devices offer and what is allocated on them."""

    __slots__ = ("names", "index_of", "mem_total", "mem_free", "exclusive", "domains", "free",
                 "product", "shape", "pool", "rep", "driver", "mig", "nics", "dev_class", "mem_max",
                 "domain_groups", "domains_solo")

    def __init__(self, names: list[str], mem_total: list[int], domains: list[str | None], product: str,
                 free: list[int], rep: ShapePool, driver: str) -> None:
        self.names = names  # device name per GPU index
        self.index_of = {n: i for i, n in enumerate(names)}
        self.mem_total = mem_total  # MiB
        self.mem_max = max(mem_total, default=0)  # the largest device's memory (a quick no)
        self.mem_free = list(mem_total)
        self.exclusive = [False] * len(names)
        self.domains = domains
        self.free = free  # the NodeState's gpu_free (same list): free compute milli per device
        self.product = product
        self.rep = rep
        self.driver = driver
        # Nodes with equal shapes publish the same devices (names, attributes, capacities,
        # NVLink grouping); only their pool names differ.
        first = {dom: i for i, dom in reversed(list(enumerate(domains)))}
        self.shape = (product, tuple(names), tuple(mem_total),
                      tuple(first[dom] if dom is not None else -1 for dom in domains))
        # The GPU indices of each NVLink domain (a GPU without one alone), or None where every
        # GPU stands alike: one domain for all, or none at all (see DraPlacement.gpu_key).
        groups: dict[object, list[int]] = {}
        for i, dom in enumerate(domains):
            groups.setdefault(dom if dom is not None else ("solo", i), []).append(i)
        alike = len(groups) == 1 or all(dom is None for dom in domains)
        self.domain_groups: tuple[tuple[int, ...], ...] | None = (
            None if alike else tuple(tuple(g) for g in groups.values()))
        # each GPU in a domain of its own (PCIe-only boards publish one per GPU)
        self.domains_solo = self.domain_groups is not None and all(len(g) == 1 for g in self.domain_groups)
        self.pool = ""
        self.mig: Any = None  # MIG partitions in use (simulator.placement.dra_mig.MigState), if offered
        self.nics: Any = None  # RDMA NICs and their free share (simulator.placement.nics.NicState), if any
        # Per device, its class among the node's devices: equal classes publish the same
        # attributes and capacities except those naming the device's place (name, index,
        # minor, UUID, PCI address, NUMA node, NVLink domain) -- see DraPlacement.bind. Every
        # device its own class unless the placement model sets it.
        self.dev_class: tuple[int, ...] = tuple(range(len(names)))

    def like(self, free: list[int]) -> "DraNode":
        """Another node of this node's shape, nothing allocated, over ``free`` (its NodeState's
        ``gpu_free``): what never changes (names, capacities, shape, classes) is shared, not
        rebuilt per node (a fleet has thousands of nodes and a dozen shapes)."""
        x = object.__new__(DraNode)
        x.names, x.index_of, x.mem_total, x.domains = self.names, self.index_of, self.mem_total, self.domains
        x.mem_max, x.domain_groups, x.domains_solo = self.mem_max, self.domain_groups, self.domains_solo
        x.product, x.rep, x.driver, x.shape, x.dev_class = self.product, self.rep, self.driver, self.shape, self.dev_class
        x.mem_free = list(self.mem_total)
        x.exclusive = [False] * len(self.names)
        x.free = free
        x.pool = ""
        x.mig = None  # per-node state: set by the placement that owns the node
        x.nics = None
        return x

    @property
    def node_obj(self) -> Any:
        """The ``Node`` the shape's allocator answers for (the shape's first node)."""
        return self.rep.node_obj

    @property
    def state(self) -> Any:
        """This node's allocations as a ``dra.allocator.AllocatedState`` in the shape's pool:
        exclusive devices taken, shared devices with their consumed ``compute`` (and
        ``memory`` where reserved) -- exactly what the allocator's own results added up to,
        since the index is updated from those results only."""
        from dra.allocator import AllocatedState
        from dra.api import DeviceID, Quantity

        state = AllocatedState()
        rep = self.rep
        for i, name in enumerate(self.names):
            dev = rep.ids.get(name)
            if dev is None:
                dev = rep.ids[name] = DeviceID(self.driver, rep.pool, name)
            if self.exclusive[i]:
                state.devices.add(dev)
                continue
            used = 1000 - self.free[i]
            if self.mig is not None:  # compute charged for MIG partitions is not a share
                used -= self.mig.milli[i]
            if used > 0:
                caps = {"compute": Quantity(str(used))}
                mem = self.mem_total[i] - self.mem_free[i]
                if mem > 0:
                    caps["memory"] = Quantity(f"{mem}Mi")
                state.capacity[dev] = caps
                state.shared_devices.add(dev)
        if self.mig is not None:  # partitions in use are dedicated devices holding their counters
            for name in self.mig.taken:
                dev = rep.ids.get(name)
                if dev is None:
                    dev = rep.ids[name] = DeviceID(self.driver, rep.pool, name)
                state.devices.add(dev)
        if self.nics is not None:  # NIC shares: the network driver's devices, consumed capacity
            from simulator.placement.nics import NIC_DRIVER, NIC_UNITS

            for k, name in enumerate(self.nics.names):
                used = NIC_UNITS - self.nics.free[k]
                if used > 0:
                    dev = rep.ids.get(name)
                    if dev is None:
                        dev = rep.ids[name] = DeviceID(NIC_DRIVER, rep.pool, name)
                    state.capacity[dev] = {"rdma": Quantity(str(used))}
                    state.shared_devices.add(dev)
        return state
