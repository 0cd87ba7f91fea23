"""ResourceClaim, its request/constraint/config types, allocation results and status
(resource.k8s.io/v1, 1.35 shape), and ResourceClaimTemplate.

Enum-like fields (``allocationMode``, ``operator``, ``effect``, ``source``) are plain strings
here so that objects with unknown values still load; :mod:`dra.api.validation` and the
allocator decide what such values mean.
"""

from __future__ import annotations

from typing import Any, ClassVar, Optional

from pydantic import Field

from dra.api.base import Int64, K8sModel, Time, TopLevelModel
from dra.api.deviceclass import DeviceConfiguration, DeviceSelector
from dra.api.meta import Condition, NodeSelector, ObjectMeta
from dra.api.quantity import Quantity

__all__ = [
    "DeviceToleration",
    "CapacityRequirements",
    "ExactDeviceRequest",
    "DeviceSubRequest",
    "DeviceRequest",
    "DeviceConstraint",
    "DeviceClaimConfiguration",
    "DeviceClaim",
    "ResourceClaimSpec",
    "ResourceClaimConsumerReference",
    "DeviceRequestAllocationResult",
    "DeviceAllocationConfiguration",
    "DeviceAllocationResult",
    "AllocationResult",
    "NetworkDeviceData",
    "AllocatedDeviceStatus",
    "ResourceClaimStatus",
    "ResourceClaim",
    "ResourceClaimTemplateSpec",
    "ResourceClaimTemplate",
]


class DeviceToleration(K8sModel):
    key: Optional[str] = None
    operator: Optional[str] = None
    value: Optional[str] = None
    effect: Optional[str] = None
    toleration_seconds: Optional[Int64] = None


class CapacityRequirements(K8sModel):
    requests: Optional[dict[str, Quantity]] = None


class DeviceDerivedAttribute(K8sModel):
    """1.37 (``DRADerivedAttributes``): a per-device value computed by CEL for constraints."""

    name: str
    expression: str


class ExactDeviceRequest(K8sModel):
    device_class_name: Optional[str] = None
    selectors: Optional[list[DeviceSelector]] = None
    allocation_mode: Optional[str] = None
    count: Optional[Int64] = None
    admin_access: Optional[bool] = None
    tolerations: Optional[list[DeviceToleration]] = None
    capacity: Optional[CapacityRequirements] = None
    derived_attributes: Optional[list[DeviceDerivedAttribute]] = None  # 1.37


class DeviceSubRequest(K8sModel):
    name: str
    device_class_name: Optional[str] = None
    selectors: Optional[list[DeviceSelector]] = None
    allocation_mode: Optional[str] = None
    count: Optional[Int64] = None
    tolerations: Optional[list[DeviceToleration]] = None
    capacity: Optional[CapacityRequirements] = None
    derived_attributes: Optional[list[DeviceDerivedAttribute]] = None  # 1.37


class DeviceRequest(K8sModel):
    name: str
    exactly: Optional[ExactDeviceRequest] = None
    first_available: Optional[list[DeviceSubRequest]] = None


class DeviceConstraint(K8sModel):
    requests: Optional[list[str]] = None
    match_attribute: Optional[str] = None
    distinct_attribute: Optional[str] = None


class DeviceClaimConfiguration(DeviceConfiguration):
    requests: Optional[list[str]] = None


class DeviceClaim(K8sModel):
    requests: Optional[list[DeviceRequest]] = None
    constraints: Optional[list[DeviceConstraint]] = None
    config: Optional[list[DeviceClaimConfiguration]] = None


class ResourceClaimSpec(K8sModel):
    devices: Optional[DeviceClaim] = None


class ResourceClaimConsumerReference(K8sModel):
    api_group: Optional[str] = None
    resource: Optional[str] = None
    name: Optional[str] = None
    uid: Optional[str] = None


class DeviceRequestAllocationResult(K8sModel):
    request: str
    driver: str
    pool: str
    device: str
    admin_access: Optional[bool] = None
    tolerations: Optional[list[DeviceToleration]] = None
    binding_conditions: Optional[list[str]] = None
    binding_failure_conditions: Optional[list[str]] = None
    share_id: Optional[str] = Field(default=None, alias="shareID")
    consumed_capacity: Optional[dict[str, Quantity]] = None
    skip_node_operations: Optional[list[str]] = None  # 1.37, DRAOptionalNodeOperations


class DeviceAllocationConfiguration(DeviceConfiguration):
    source: str
    requests: Optional[list[str]] = None


class DeviceAllocationResult(K8sModel):
    results: Optional[list[DeviceRequestAllocationResult]] = None
    config: Optional[list[DeviceAllocationConfiguration]] = None


class AllocationResult(K8sModel):
    devices: Optional[DeviceAllocationResult] = None
    node_selector: Optional[NodeSelector] = None
    allocation_timestamp: Optional[Time] = None


class NetworkDeviceData(K8sModel):
    interface_name: Optional[str] = None
    ips: Optional[list[str]] = None
    hardware_address: Optional[str] = None


class AllocatedDeviceStatus(K8sModel):
    driver: str
    pool: str
    device: str
    share_id: Optional[str] = Field(default=None, alias="shareID")
    conditions: Optional[list[Condition]] = None
    data: Optional[Any] = None
    network_data: Optional[NetworkDeviceData] = None


class ResourceClaimStatus(K8sModel):
    allocation: Optional[AllocationResult] = None
    reserved_for: Optional[list[ResourceClaimConsumerReference]] = None
    devices: Optional[list[AllocatedDeviceStatus]] = None


class ResourceClaim(TopLevelModel):
    API_VERSION: ClassVar[str] = "resource.k8s.io/v1"
    KIND: ClassVar[str] = "ResourceClaim"

    api_version: str = "resource.k8s.io/v1"
    kind: str = "ResourceClaim"
    metadata: Optional[ObjectMeta] = None
    spec: ResourceClaimSpec
    status: Optional[ResourceClaimStatus] = None

    @property
    def name(self) -> str:
        return (self.metadata.name if self.metadata else None) or ""

    @property
    def namespace(self) -> str:
        return (self.metadata.namespace if self.metadata else None) or ""

    @property
    def key(self) -> str:
        """``namespace/name`` (just ``name`` without a namespace), as messages name claims."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


class ResourceClaimTemplateSpec(K8sModel):
    metadata: Optional[ObjectMeta] = None
    spec: ResourceClaimSpec


class ResourceClaimTemplate(TopLevelModel):
    API_VERSION: ClassVar[str] = "resource.k8s.io/v1"
    KIND: ClassVar[str] = "ResourceClaimTemplate"

    api_version: str = "resource.k8s.io/v1"
    kind: str = "ResourceClaimTemplate"
    metadata: Optional[ObjectMeta] = None
    spec: ResourceClaimTemplateSpec

    @property
    def name(self) -> str:
        return (self.metadata.name if self.metadata else None) or ""
