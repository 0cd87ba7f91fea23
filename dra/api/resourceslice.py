"""ResourceSlice and the device description it carries (resource.k8s.io/v1, 1.34 to 1.37).

A slice publishes devices of one driver's pool: attributes (typed values for CEL, scalars or
-- 1.36+, ``DRAListTypeAttributes`` -- lists), capacity (quantities, optionally consumable
through a request policy), counter consumption for partitionable devices, taints, binding
conditions, and the node-allocatable resources a device maps or costs.

The models hold the union of every supported minor's fields, so an object written for one
version loads and is written back exactly as it was (unset fields stay unset). Which fields a
version declares, and which gate guards them, is checked in :mod:`dra.api.validation`:

* 1.36: ``DeviceAttribute.ints/bools/strings/versions``; ``Device.nodeAllocatableResourceMappings``
  (``{capacityKey, allocationMultiplier}``, tombstoned in 1.37).
* 1.37: ``Device.nodeAllocatableResources`` (``{mapping{capacityKey, capacityMultiplier,
  deviceMultiplier}, overhead{perPod, perContainer}}``), ``ResourceSliceSpec.partitionTypeAttribute``
  and ``skipNodeOperations``, ``DeviceCounterConsumption.compatibilityGroups``.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple, Optional, Union

from pydantic import Field

from dra.api.base import Int64, K8sModel, Time, TopLevelModel
from dra.api.meta import NodeSelector, ObjectMeta
from dra.api.quantity import Quantity

__all__ = [
    "DeviceID",
    "DeviceAttribute",
    "CapacityRequestPolicyRange",
    "CapacityRequestPolicy",
    "DeviceCapacity",
    "Counter",
    "CounterSet",
    "DeviceCounterConsumption",
    "DeviceTaint",
    "Device",
    "NodeAllocatableResourceMapping",
    "NodeAllocatableResource",
    "NodeAllocatableMapping",
    "NodeAllocatableOverhead",
    "LIST_KINDS",
    "ResourcePool",
    "ResourceSliceSpec",
    "ResourceSlice",
]


class DeviceID(NamedTuple):
    """The identity of a device across the cluster."""

    driver: str
    pool: str
    device: str

    def __str__(self) -> str:
        return f"{self.driver}/{self.pool}/{self.device}"


LIST_KINDS = ("ints", "bools", "strings", "versions")
"""``DeviceAttribute.kind`` of the list-typed members (1.36+, gate ``DRAListTypeAttributes``)."""


class DeviceAttribute(K8sModel):
    """A typed attribute value; exactly one of the eight fields should be set.

    Scalars: ``int``, ``bool``, ``string``, ``version``. Lists (1.36+): ``ints``, ``bools``,
    ``strings``, ``versions`` -- :attr:`kind` is then the plural wire name and :attr:`value`
    the list.
    """

    int_: Optional[Int64] = Field(default=None, alias="int")
    bool_: Optional[bool] = Field(default=None, alias="bool")
    string: Optional[str] = None
    version: Optional[str] = None
    ints: Optional[list[Int64]] = None
    bools: Optional[list[bool]] = None
    strings: Optional[list[str]] = None
    versions: Optional[list[str]] = None

    @property
    def value(self) -> Union[int, bool, str, list, None]:
        """Whichever value is set (a version as its text, a list member as the list), or None."""
        if self.int_ is not None:
            return self.int_
        if self.bool_ is not None:
            return self.bool_
        if self.string is not None:
            return self.string
        if self.version is not None:
            return self.version
        for name in LIST_KINDS:
            v = getattr(self, name)
            if v is not None:
                return v
        return None

    @property
    def kind(self) -> Optional[str]:
        """``"int"``, ``"bool"``, ``"string"``, ``"version"``, ``"ints"``, ``"bools"``,
        ``"strings"``, ``"versions"`` or None."""
        for name, v in (("int", self.int_), ("bool", self.bool_), ("string", self.string), ("version", self.version)):
            if v is not None:
                return name
        for name in LIST_KINDS:
            if getattr(self, name) is not None:
                return name
        return None

    @property
    def is_list(self) -> bool:
        """Whether a list-typed member is set."""
        return any(getattr(self, name) is not None for name in LIST_KINDS)

    def value_count(self) -> int:
        """How many values this attribute counts against the 48-per-device limit (1.36+)."""
        total = sum(v is not None for v in (self.int_, self.bool_, self.string, self.version))
        for name in LIST_KINDS:
            v = getattr(self, name)
            if v is not None:
                total += len(v)
        return total

    @classmethod
    def of(cls, value: Union[int, bool, str, list]) -> "DeviceAttribute":
        """An attribute from a Python value: int, bool or str, or a non-empty list of one of
        them (``ints``/``bools``/``strings``; use ``versions=`` / ``version=`` for versions)."""
        if isinstance(value, bool):
            return cls.model_construct(bool_=value)
        if isinstance(value, int):
            return cls.model_construct(int_=value)
        if isinstance(value, str):
            return cls.model_construct(string=value)
        if isinstance(value, (list, tuple)) and value:
            items = list(value)
            if all(isinstance(x, bool) for x in items):
                return cls.model_construct(bools=items)
            if all(isinstance(x, int) and not isinstance(x, bool) for x in items):
                return cls.model_construct(ints=items)
            if all(isinstance(x, str) for x in items):
                return cls.model_construct(strings=items)
        raise TypeError(f"unsupported attribute value {value!r}")


class CapacityRequestPolicyRange(K8sModel):
    min: Optional[Quantity] = None
    max: Optional[Quantity] = None
    step: Optional[Quantity] = None


class CapacityRequestPolicy(K8sModel):
    default: Optional[Quantity] = None
    valid_values: Optional[list[Quantity]] = None
    valid_range: Optional[CapacityRequestPolicyRange] = None


class DeviceCapacity(K8sModel):
    value: Quantity
    request_policy: Optional[CapacityRequestPolicy] = None


class Counter(K8sModel):
    value: Quantity


class CounterSet(K8sModel):
    name: str
    counters: dict[str, Counter]


class DeviceCounterConsumption(K8sModel):
    counter_set: str
    counters: dict[str, Counter]
    compatibility_groups: Optional[list[str]] = None  # 1.37, DRADeviceCompatibilityGroups


class DeviceTaint(K8sModel):
    key: str
    value: Optional[str] = None
    effect: str
    time_added: Optional[Time] = None


class NodeAllocatableResourceMapping(K8sModel):
    """1.36 ``Device.nodeAllocatableResourceMappings`` value (tombstoned in 1.37)."""

    capacity_key: Optional[str] = None
    allocation_multiplier: Optional[Quantity] = None


class NodeAllocatableMapping(K8sModel):
    """1.37: the device models a node resource directly (once per claim)."""

    capacity_key: Optional[str] = None
    capacity_multiplier: Optional[Quantity] = None
    device_multiplier: Optional[Quantity] = None


class NodeAllocatableOverhead(K8sModel):
    """1.37: host resources a device costs each pod that uses it (GPU host memory)."""

    per_pod: Optional[Quantity] = None
    per_container: Optional[Quantity] = None


class NodeAllocatableResource(K8sModel):
    """1.37 ``Device.nodeAllocatableResources`` value: at least one of the two."""

    mapping: Optional[NodeAllocatableMapping] = None
    overhead: Optional[NodeAllocatableOverhead] = None


class Device(K8sModel):
    name: str
    attributes: Optional[dict[str, DeviceAttribute]] = None
    capacity: Optional[dict[str, DeviceCapacity]] = None
    consumes_counters: Optional[list[DeviceCounterConsumption]] = None
    node_name: Optional[str] = None
    node_selector: Optional[NodeSelector] = None
    all_nodes: Optional[bool] = None
    taints: Optional[list[DeviceTaint]] = None
    binds_to_node: Optional[bool] = None
    binding_conditions: Optional[list[str]] = None
    binding_failure_conditions: Optional[list[str]] = None
    allow_multiple_allocations: Optional[bool] = None
    # 1.36 only (DRANodeAllocatableResources); replaced by node_allocatable_resources in 1.37
    node_allocatable_resource_mappings: Optional[dict[str, NodeAllocatableResourceMapping]] = None
    node_allocatable_resources: Optional[dict[str, NodeAllocatableResource]] = None  # 1.37


class ResourcePool(K8sModel):
    name: str
    generation: Int64
    resource_slice_count: Int64


class ResourceSliceSpec(K8sModel):
    driver: str
    pool: ResourcePool
    node_name: Optional[str] = None
    node_selector: Optional[NodeSelector] = None
    all_nodes: Optional[bool] = None
    devices: Optional[list[Device]] = None
    per_device_node_selection: Optional[bool] = None
    shared_counters: Optional[list[CounterSet]] = None
    partition_type_attribute: Optional[str] = None  # 1.37, DRAPartitionableDevicesType
    skip_node_operations: Optional[list[str]] = None  # 1.37, DRAOptionalNodeOperations


class ResourceSlice(TopLevelModel):
    API_VERSION: ClassVar[str] = "resource.k8s.io/v1"
    KIND: ClassVar[str] = "ResourceSlice"

    api_version: str = "resource.k8s.io/v1"
    kind: str = "ResourceSlice"
    metadata: Optional[ObjectMeta] = None
    spec: ResourceSliceSpec

    @property
    def name(self) -> str:
        return (self.metadata.name if self.metadata else None) or ""

    def device_ids(self) -> list[DeviceID]:
        spec = self.spec
        return [DeviceID(spec.driver, spec.pool.name, d.name) for d in spec.devices or ()]
