"""Extended resources backed by DRA (KEP-5004): the claim kube-scheduler makes for a Pod.

A container asking for ``nvidia.com/gpu: 2`` is served by DRA when a DeviceClass maps that
name (``spec.extendedResourceName``; every class also maps the implicit
``deviceclass.resource.kubernetes.io/<class>``) and the node does not advertise it through
a device plugin. The scheduler then builds one special ResourceClaim for the pod:
annotated ``resource.kubernetes.io/extended-resource-claim: "true"``, with one ExactCount
request per container and extended resource, named ``container-<i>-request-<j>`` (the
index of the container, then of the resource in the container's sorted requests). When two
classes map the same name the newest class wins, with equal creation times the
lexicographically first (KEP-5004 §Filter; ``dra-2026.md`` §3.5).

Pure: Pods come in as dicts (``dra.api`` does not model Pods), claims go out as
``ResourceClaim`` objects (:func:`claims_for_pods`) or their dicts
(:func:`claim_dict_for_pod`). Used by ``dra allocate`` and by the simulator's migration
placement. Whether the node advertises the name through a device plugin (then the
scheduler makes no claim) is the caller's decision.
"""

from __future__ import annotations

from typing import Any

from dra.errors import UserError

ANNOTATION = "resource.kubernetes.io/extended-resource-claim"
IMPLICIT_PREFIX = "deviceclass.resource.kubernetes.io/"


class ExtendedResourceError(UserError):
    pass


def class_for_resources(classes: list[Any], *, implicit: bool = True) -> dict[str, str]:
    """Extended resource name -> DeviceClass name, as the scheduler resolves it.

    ``implicit=False`` is 1.34: its scheduler asks ``IsExtendedResourceName``, which is false
    for every name in the ``kubernetes.io/`` namespace, so a request for
    ``deviceclass.resource.kubernetes.io/<class>`` never reaches DRA (the pod is bound with no
    devices; checked against kube-scheduler v1.34.4). 1.35 added ``IsDRAExtendedResourceName``.
    """
    by_name: dict[str, list[Any]] = {}
    for c in classes:
        name = c.metadata.name
        if implicit:
            by_name.setdefault(IMPLICIT_PREFIX + name, []).append(c)
        explicit = getattr(c.spec, "extended_resource_name", None) if c.spec is not None else None
        if explicit:
            by_name.setdefault(explicit, []).append(c)

    def rank(c: Any) -> tuple[str, str]:
        created = str(getattr(c.metadata, "creation_timestamp", None) or "")
        # newest first; equal times: lexicographically first name
        return ("".join(chr(0x10FFFF - ord(ch)) for ch in created), c.metadata.name)

    return {res: sorted(cs, key=rank)[0].metadata.name for res, cs in by_name.items()}


def _quantity_count(value: Any, where: str) -> int:
    from dra.api import Quantity

    try:
        q = Quantity(str(value)).as_fraction()
    except Exception:  # noqa: BLE001 - any parse failure is the same user error
        raise ExtendedResourceError(f"{where}: not a quantity: {value!r}") from None
    if q.denominator != 1 or q < 0:
        raise ExtendedResourceError(f"{where}: extended resources must be whole numbers, got {value!r}")
    return int(q)


def _requests_of(container: dict[str, Any]) -> dict[str, Any]:
    res = container.get("resources") or {}
    # The API server defaults an extended resource's request to its limit.
    return {**(res.get("limits") or {}), **(res.get("requests") or {})}


def _request(ns: str, pod: str, ci: int, container: dict[str, Any], resource: str, cls: str,
             reusable: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One container's request for ``resource`` (upstream createResourceRequestAndMappings)."""
    creqs = _requests_of(container)
    if resource not in creqs:
        return None
    count = _quantity_count(creqs[resource], f"Pod {ns}/{pod}: containers[{ci}].resources.requests[{resource}]")
    if count == 0:
        return None
    have = 0
    for r in reusable:
        have += r["exactly"]["count"]
        if have >= count:
            return None
    return {
        "name": f"container-{ci}-request-{sorted(creqs).index(resource)}",
        "exactly": {"deviceClassName": cls, "allocationMode": "ExactCount", "count": count - have},
    }


def claims_for_pods(pods: list[dict[str, Any]], classes: list[Any], *, v1_34: bool = False) -> list[Any]:
    """The special claim per pod that asks for DRA-backed extended resources, as
    ``ResourceClaim`` objects (pods with none get no claim); see :func:`claim_dict_for_pod`.
    ``v1_34``: as kube-scheduler 1.34 (alpha) makes it: explicit names only
    (:func:`class_for_resources`) and one request per container (:func:`claim_dict_for_pod`)."""
    from dra.api import ResourceClaim

    mapping = class_for_resources(classes, implicit=not v1_34)
    claims: list[Any] = []
    for pod in pods:
        data = claim_dict_for_pod(pod, mapping, v1_34=v1_34)
        if data is not None:
            meta = data["metadata"]
            claims.append(ResourceClaim.from_dict(data, path=f"Pod {meta['namespace']}/{pod_name(pod)}"))
    return claims


def pod_name(pod: dict[str, Any]) -> str:
    return (pod.get("metadata") or {}).get("name") or "<unnamed>"


def claim_dict_for_pod(pod: dict[str, Any], mapping: dict[str, str], *, v1_34: bool = False) -> dict[str, Any] | None:
    """The special claim per pod that asks for DRA-backed extended resources.

    As the 1.35-1.37 scheduler's ``createRequestsAndMappings``: containers are the init
    containers followed by the regular ones (that is the index in the request name), the
    resource index is the position among the container's sorted request names, regular and
    sidecar containers get a request each, a plain init container first reuses the requests
    of the long-lived containers after it and asks only for the rest, only the largest of
    the init containers' requests is kept (they run one at a time), and the requests are
    sorted by name.

    ``v1_34``: as 1.34's ``createDeviceRequests``: every container, init containers included,
    gets a request for its whole amount (nothing reused), in container order per resource and
    not sorted. (1.34 walks the resources in Go map order, so a pod asking for two DRA-backed
    names gets its requests in either order there; here they come sorted.)
    """
    meta = pod.get("metadata") or {}
    name = meta.get("name") or "<unnamed>"
    ns = meta.get("namespace") or "default"
    spec = pod.get("spec") or {}
    inits = spec.get("initContainers") or []
    containers = [*inits, *(spec.get("containers") or [])]
    wanted_names = sorted({r for c in containers for r in _requests_of(c) if r in mapping})
    requests: list[dict[str, Any]] = []
    if v1_34:
        for resource in wanted_names:
            requests.extend(r for ci, c in enumerate(containers)
                            if (r := _request(ns, name, ci, c, resource, mapping[resource], [])) is not None)
    for resource in wanted_names if not v1_34 else ():
        long_lived: list[dict[str, Any] | None] = [None] * len(containers)
        short_lived: list[int] = []
        for ci, container in enumerate(containers):
            if ci < len(inits) and container.get("restartPolicy") != "Always":
                short_lived.append(ci)  # a plain init container: runs alone, before the rest
                continue
            long_lived[ci] = _request(ns, name, ci, container, resource, mapping[resource], [])
        biggest: dict[str, Any] | None = None
        for ci in short_lived:
            # It may reuse the requests of the long-lived containers that follow it.
            reusable = [r for r in long_lived[ci:] if r is not None]
            request = _request(ns, name, ci, containers[ci], resource, mapping[resource], reusable)
            if request is not None and (biggest is None or biggest["exactly"]["count"] < request["exactly"]["count"]):
                biggest = request
        if biggest is not None:
            requests.append(biggest)
        requests.extend(r for r in long_lived if r is not None)
    if not requests:
        return None
    if not v1_34:
        requests.sort(key=lambda r: r["name"])
    return {
        "apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
        "metadata": {"name": f"{name}-extended-resources", "namespace": ns,
                     "annotations": {ANNOTATION: "true"}},
        "spec": {"devices": {"requests": requests}},
    }
