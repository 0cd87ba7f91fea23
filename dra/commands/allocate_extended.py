"""Pods with extended resources backed by DRA (KEP-5004) for ``dra allocate``.

A container asking for ``nvidia.com/gpu: 2`` is served by DRA when a DeviceClass maps that
name (``spec.extendedResourceName``; every class also maps the implicit
``deviceclass.resource.kubernetes.io/<class>``) and the node does not advertise it through
a device plugin. The scheduler then builds one special ResourceClaim for the pod:
annotated ``resource.kubernetes.io/extended-resource-claim: "true"``, with one ExactCount
request per container and extended resource, named ``container-<i>-request-<j>`` (the
index of the container, then of the resource in the container's sorted requests). When two
classes map the same name the newest class wins, with equal creation times the
lexicographically first (KEP-5004 §Filter; ``dra-2026.md`` §3.5).

Pods are not a kind ``dra.api`` models, so they are taken out of the input files here,
before the rest is loaded as usual.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import yaml

from dra.errors import UserError

ANNOTATION = "resource.kubernetes.io/extended-resource-claim"
IMPLICIT_PREFIX = "deviceclass.resource.kubernetes.io/"


class ExtendedResourceError(UserError):
    pass


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml", ".json"))
    return [path]


def _is_pod(doc: Any) -> bool:
    return isinstance(doc, dict) and doc.get("kind") == "Pod" and doc.get("apiVersion") == "v1"


def split_pods(paths: list[str], loader: Callable[[list[str]], list[Any]]) -> tuple[list[dict[str, Any]], list[Any]]:
    """(Pods as dicts, every other object loaded by ``loader``) from ``paths``."""
    from dra.api.io import load_objects_from_text

    pods: list[dict[str, Any]] = []
    objs: list[Any] = []
    for raw in paths:
        path = Path(raw)
        if raw == "-" or not path.exists():
            objs.extend(loader([raw]))
            continue
        for file in _files(path):
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                objs.extend(loader([str(file)]))  # the loader reports it
                continue
            if "Pod" not in text:
                objs.extend(loader([str(file)]))
                continue
            try:
                docs = [d for d in yaml.safe_load_all(text) if d is not None]
            except yaml.YAMLError:
                objs.extend(loader([str(file)]))  # the loader reports it with a line
                continue
            items = [i for d in docs for i in (d.get("items") if isinstance(d, dict) and d.get("kind") == "List" else [d])]
            if not any(_is_pod(i) for i in items):
                objs.extend(loader([str(file)]))
                continue
            for i, item in enumerate(items):
                if _is_pod(item):
                    pods.append(item)
                else:
                    objs.extend(load_objects_from_text(yaml.safe_dump(item), f"{file} (object {i + 1})"))
    return pods, objs


def class_for_resources(classes: list[Any]) -> dict[str, str]:
    """Extended resource name -> DeviceClass name, as the scheduler resolves it."""
    by_name: dict[str, list[Any]] = {}
    for c in classes:
        name = c.metadata.name
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


def claims_for_pods(pods: list[dict[str, Any]], classes: list[Any]) -> list[Any]:
    """The special claim per pod that asks for DRA-backed extended resources.

    As the 1.37 scheduler's ``createRequestsAndMappings``: containers are the init
    containers followed by the regular ones (that is the index in the request name), the
    resource index is the position among the container's sorted request names, regular and
    sidecar containers get a request each, a plain init container first reuses the requests
    of the long-lived containers after it and asks only for the rest, only the largest of
    the init containers' requests is kept (they run one at a time), and the requests are
    sorted by name.
    """
    from dra.api import ResourceClaim

    mapping = class_for_resources(classes)
    claims: list[Any] = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        name = meta.get("name") or "<unnamed>"
        ns = meta.get("namespace") or "default"
        spec = pod.get("spec") or {}
        inits = spec.get("initContainers") or []
        containers = [*inits, *(spec.get("containers") or [])]
        wanted_names = sorted({r for c in containers for r in _requests_of(c) if r in mapping})
        requests: list[dict[str, Any]] = []
        for resource in wanted_names:
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
            continue
        requests.sort(key=lambda r: r["name"])
        claims.append(ResourceClaim.from_dict({
            "apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
            "metadata": {"name": f"{name}-extended-resources", "namespace": ns,
                         "annotations": {ANNOTATION: "true"}},
            "spec": {"devices": {"requests": requests}},
        }, path=f"Pod {ns}/{name}"))
    return claims
