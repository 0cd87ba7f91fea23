"""Refuse to run beside NVIDIA's device plugin when both would hand out the same GPUs.

With extended-resource mapping (KEP-5004, GA in 1.37) a DeviceClass with
``spec.extendedResourceName: nvidia.com/gpu`` lets pods asking for ``nvidia.com/gpu: 1`` be
served by DRA devices. If the node's device plugin also reports ``nvidia.com/gpu`` in
``status.capacity``, the scheduler counts the same GPUs twice: once through the device
plugin, once through our slices, and two pods get one GPU. NVIDIA's chart refuses that unless
overridden; so do we, at start, with one line naming the class, the resource and the node,
unless ``--allow-device-plugin-coexistence`` (then it is logged as a warning).

A class counts when it can select this driver's devices: it has no selector, or one of its
CEL selectors names the driver. If the API server cannot be asked (no permission, an old
server without ``resource.k8s.io/v1``), the check is skipped with a warning: it guards a
configuration mistake, it must not keep a node's GPUs out of service.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from kubernetes.client import CoreV1Api, CustomObjectsApi
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError as TransportError

from dra.api import Quantity
from dra.errors import UserError

log = logging.getLogger(__name__)


class DevicePluginConflict(UserError):
    """A DeviceClass maps an extended resource the node's device plugin already reports."""


@dataclass(frozen=True)
class Conflict:
    device_class: str
    resource: str
    capacity: str


def conflicts(classes: list[dict], node: dict, driver: str) -> list[Conflict]:
    capacity = (node.get("status") or {}).get("capacity") or {}
    found = []
    for cls in classes:
        spec = cls.get("spec") or {}
        name = spec.get("extendedResourceName")
        if not name or name not in capacity:
            continue
        try:
            if Quantity(str(capacity[name])).value() <= 0:
                continue
        except UserError:
            continue
        selectors = spec.get("selectors") or []
        expressions = [((s or {}).get("cel") or {}).get("expression", "") for s in selectors]
        if selectors and not any(driver in e for e in expressions):
            continue
        found.append(Conflict((cls.get("metadata") or {}).get("name", "?"), name, str(capacity[name])))
    return found


def check(api_client, node_name: str, driver: str, allow: bool) -> list[Conflict]:
    try:
        raw = CustomObjectsApi(api_client).list_cluster_custom_object(
            "resource.k8s.io", "v1", "deviceclasses", _preload_content=False, _request_timeout=10)
        classes = json.loads(raw.data).get("items") or []
        raw = CoreV1Api(api_client).read_node(node_name, _preload_content=False, _request_timeout=10)
        node = json.loads(raw.data)
    except (ApiException, OSError, TransportError, ValueError) as err:
        reason = f"{err.status} {err.reason}" if isinstance(err, ApiException) else str(err)
        log.warning("cannot check for a device plugin serving the same GPUs; check skipped",
                    extra={"error": reason})
        return []
    found = conflicts(classes, node, driver)
    if found and not allow:
        c = found[0]
        raise DevicePluginConflict(
            f"DeviceClass {c.device_class} maps extended resource {c.resource}, which node {node_name} "
            f"already reports from a device plugin (capacity {c.capacity}): both would hand out the same "
            "GPUs; remove the device plugin from this node or extendedResourceName from the class, or "
            "pass --allow-device-plugin-coexistence"
        )
    for c in found:
        log.warning("running beside a device plugin that reports the same extended resource",
                    extra={"device_class": c.device_class, "resource": c.resource, "capacity": c.capacity})
    return found
