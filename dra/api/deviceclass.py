"""DeviceClass and the device configuration types shared with claims (resource.k8s.io/v1)."""

from __future__ import annotations

from typing import Any, ClassVar, Optional

from dra.api.base import K8sModel, TopLevelModel
from dra.api.meta import ObjectMeta

__all__ = [
    "CELDeviceSelector",
    "DeviceSelector",
    "OpaqueDeviceConfiguration",
    "DeviceConfiguration",
    "DeviceClassConfiguration",
    "DeviceClassSpec",
    "DeviceClass",
]


class CELDeviceSelector(K8sModel):
    expression: str


class DeviceSelector(K8sModel):
    """One-of selector types; CEL is the only one so far (an empty selector is a rule error)."""

    cel: Optional[CELDeviceSelector] = None


class OpaqueDeviceConfiguration(K8sModel):
    """Driver-specific parameters handed to the kubelet plugin of ``driver`` unchanged."""

    driver: str
    parameters: dict[str, Any]


class DeviceConfiguration(K8sModel):
    opaque: Optional[OpaqueDeviceConfiguration] = None


class DeviceClassConfiguration(DeviceConfiguration):
    pass


class DeviceClassSpec(K8sModel):
    selectors: Optional[list[DeviceSelector]] = None
    config: Optional[list[DeviceClassConfiguration]] = None
    extended_resource_name: Optional[str] = None


class DeviceClass(TopLevelModel):
    API_VERSION: ClassVar[str] = "resource.k8s.io/v1"
    KIND: ClassVar[str] = "DeviceClass"

    api_version: str = "resource.k8s.io/v1"
    kind: str = "DeviceClass"
    metadata: Optional[ObjectMeta] = None
    spec: DeviceClassSpec

    @property
    def name(self) -> str:
        return (self.metadata.name if self.metadata else None) or ""
