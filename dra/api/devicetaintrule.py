"""DeviceTaintRule (resource.k8s.io/v1alpha3; v1 from 1.37; gate DRADeviceTaintRules): a taint added to every
device matching its selector."""

from __future__ import annotations

from typing import ClassVar, Optional

from dra.api.base import K8sModel, TopLevelModel
from dra.api.meta import Condition, ObjectMeta
from dra.api.resourceslice import DeviceTaint

__all__ = ["DeviceTaintSelector", "DeviceTaintRuleSpec", "DeviceTaintRuleStatus", "DeviceTaintRule"]


class DeviceTaintSelector(K8sModel):
    """All set fields must match a device for the rule to apply to it."""

    driver: Optional[str] = None
    pool: Optional[str] = None
    device: Optional[str] = None


class DeviceTaintRuleSpec(K8sModel):
    device_selector: Optional[DeviceTaintSelector] = None
    taint: DeviceTaint


class DeviceTaintRuleStatus(K8sModel):
    conditions: Optional[list[Condition]] = None


class DeviceTaintRule(TopLevelModel):
    """v1alpha3 (1.33-1.36), v1beta2, and v1 from 1.37 (same shape); the apiVersion is kept."""

    API_VERSION: ClassVar[str] = "resource.k8s.io/v1alpha3"
    KIND: ClassVar[str] = "DeviceTaintRule"

    api_version: str = "resource.k8s.io/v1alpha3"
    kind: str = "DeviceTaintRule"
    metadata: Optional[ObjectMeta] = None
    spec: DeviceTaintRuleSpec
    status: Optional[DeviceTaintRuleStatus] = None
