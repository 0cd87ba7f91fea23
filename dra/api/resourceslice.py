"""ResourceSlice and the device description it carries (resource.k8s.io/v1, 1.35 shape).

A slice publishes devices of one driver's pool: attributes (typed values for CEL), capacity
(quantities, optionally consumable through a request policy), counter consumption for
partitionable devices, taints and binding conditions.  1.34 objects load too (same fields);
the version differences are rules, checked in :mod:`dra.api.validation`.
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


class DeviceAttribute(K8sModel):
    """A typed attribute value; exactly one of the four fields should be set."""

    int_: Optional[Int64] = Field(default=None, alias="int")
    bool_: Optional[bool] = Field(default=None, alias="bool")
    string: Optional[str] = None
    version: Optional[str] = None

    @property
    def value(self) -> Union[int, bool, str, None]:
        """Whichever value is set (the version as its text), or None."""
        if self.int_ is not None:
            return self.int_
        if self.bool_ is not None:
            return self.bool_
        if self.string is not None:
            return self.string
        return self.version

    @property
    def kind(self) -> Optional[str]:
        """``"int"``, ``"bool"``, ``"string"``, ``"version"`` or None."""
        for name, v in (("int", self.int_), ("bool", self.bool_), ("string", self.string)):
            if v is not None:
                return name
        return "version" if self.version is not None else None

    @classmethod
    def of(cls, value: Union[int, bool, str]) -> "DeviceAttribute":
        """An int, bool or string attribute from a Python value (use ``version=`` for versions)."""
        if isinstance(value, bool):
            return cls.model_construct(bool_=value)
        if isinstance(value, int):
            return cls.model_construct(int_=value)
        if isinstance(value, str):
            return cls.model_construct(string=value)
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


class DeviceTaint(K8sModel):
    key: str
    value: Optional[str] = None
    effect: str
    time_added: Optional[Time] = None


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
