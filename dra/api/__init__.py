"""resource.k8s.io/v1 objects for DRA: Quantity, pydantic models, validation, YAML/JSON io.

``dra.api`` is the bottom layer of the project (only ``dra.errors`` sits below it): every other
part reads and writes Kubernetes objects through these types.

* :mod:`dra.api.quantity` -- exact ``resource.Quantity``.
* :mod:`dra.api.resourceslice`, :mod:`dra.api.deviceclass`, :mod:`dra.api.resourceclaim`,
  :mod:`dra.api.devicetaintrule`, :mod:`dra.api.meta` -- the models (structure only).
* :mod:`dra.api.validation` -- the API server's rules and limits (1.34 / 1.35).
* :mod:`dra.api.io` -- YAML/JSON files in, objects out, and back.
"""

from dra.api.base import K8sModel, TopLevelModel
from dra.api.deviceclass import (
    CELDeviceSelector,
    DeviceClass,
    DeviceClassConfiguration,
    DeviceClassSpec,
    DeviceConfiguration,
    DeviceSelector,
    OpaqueDeviceConfiguration,
)
from dra.api.devicetaintrule import (
    DeviceTaintRule,
    DeviceTaintRuleSpec,
    DeviceTaintRuleStatus,
    DeviceTaintSelector,
)
from dra.api.errors import ApiError, FieldError, ValidationError
from dra.api.meta import (
    Condition,
    ManagedFieldsEntry,
    Node,
    NodeSelector,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    ObjectMeta,
    OwnerReference,
)
from dra.api.quantity import Quantity, QuantityError
from dra.api.resourceclaim import (
    AllocatedDeviceStatus,
    AllocationResult,
    CapacityRequirements,
    DeviceAllocationConfiguration,
    DeviceAllocationResult,
    DeviceClaim,
    DeviceClaimConfiguration,
    DeviceConstraint,
    DeviceRequest,
    DeviceRequestAllocationResult,
    DeviceSubRequest,
    DeviceToleration,
    ExactDeviceRequest,
    NetworkDeviceData,
    ResourceClaim,
    ResourceClaimConsumerReference,
    ResourceClaimSpec,
    ResourceClaimStatus,
    ResourceClaimTemplate,
    ResourceClaimTemplateSpec,
)
from dra.api.resourceslice import (
    CapacityRequestPolicy,
    CapacityRequestPolicyRange,
    Counter,
    CounterSet,
    Device,
    DeviceAttribute,
    DeviceCapacity,
    DeviceCounterConsumption,
    DeviceID,
    DeviceTaint,
    ResourcePool,
    ResourceSlice,
    ResourceSliceSpec,
)

__all__ = [
    "AllocatedDeviceStatus",
    "AllocationResult",
    "ApiError",
    "CELDeviceSelector",
    "CapacityRequestPolicy",
    "CapacityRequestPolicyRange",
    "CapacityRequirements",
    "Condition",
    "Counter",
    "CounterSet",
    "Device",
    "DeviceAllocationConfiguration",
    "DeviceAllocationResult",
    "DeviceAttribute",
    "DeviceCapacity",
    "DeviceClaim",
    "DeviceClaimConfiguration",
    "DeviceClass",
    "DeviceClassConfiguration",
    "DeviceClassSpec",
    "DeviceConfiguration",
    "DeviceConstraint",
    "DeviceCounterConsumption",
    "DeviceID",
    "DeviceRequest",
    "DeviceRequestAllocationResult",
    "DeviceSelector",
    "DeviceSubRequest",
    "DeviceTaint",
    "DeviceTaintRule",
    "DeviceTaintRuleSpec",
    "DeviceTaintRuleStatus",
    "DeviceTaintSelector",
    "DeviceToleration",
    "ExactDeviceRequest",
    "FieldError",
    "K8sModel",
    "ManagedFieldsEntry",
    "NetworkDeviceData",
    "Node",
    "NodeSelector",
    "NodeSelectorRequirement",
    "NodeSelectorTerm",
    "ObjectMeta",
    "OpaqueDeviceConfiguration",
    "OwnerReference",
    "Quantity",
    "QuantityError",
    "ResourceClaim",
    "ResourceClaimConsumerReference",
    "ResourceClaimSpec",
    "ResourceClaimStatus",
    "ResourceClaimTemplate",
    "ResourceClaimTemplateSpec",
    "ResourcePool",
    "ResourceSlice",
    "ResourceSliceSpec",
    "TopLevelModel",
    "ValidationError",
]
