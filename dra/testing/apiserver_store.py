"""The object store behind the stand-in API server: storage semantics, no HTTP.

What it keeps the way etcd + kube-apiserver do: one global, monotonically increasing
``resourceVersion`` (a decimal string) stamped on every write; ``uid`` and
``creationTimestamp`` set on create and kept on update; ``metadata.generation`` starting at 1
and bumped when anything outside ``metadata``/``status`` changes; ``generateName`` completed
with five random characters; optimistic concurrency (an update or a delete precondition that
names a stale ``resourceVersion`` or another ``uid`` fails with 409 Conflict); the ``status``
subresource (the main resource ignores status changes, ``/status`` changes only status);
finalizers (a delete of an object with finalizers only sets ``deletionTimestamp``; the object
goes once an update empties the list); label selectors and the field selectors each resource
type supports.

Errors are raised as :class:`StatusError` carrying the Kubernetes ``Status`` body.
"""

from __future__ import annotations

import copy
import datetime as _dt
import random
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from dra.testing.apiserver_errors import StatusError, bad_request, conflict, invalid, not_found
from dra.testing.apiserver_selectors import dig, parse_field_selector, parse_label_selector

Obj = dict[str, Any]


@dataclass(frozen=True)
class ResourceType:
    """One REST resource the stand-in serves."""

    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool
    has_status: bool = False
    # Extra field-selector labels besides metadata.name / metadata.namespace: label -> getter.
    field_labels: tuple[tuple[str, Callable[[Obj], Any]], ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """``resourceslices.resource.k8s.io`` as it appears in upstream error messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


RESOURCE_TYPES: tuple[ResourceType, ...] = (
    ResourceType(
        "resource.k8s.io", "v1", "resourceslices", "ResourceSlice", namespaced=False,
        field_labels=(("spec.driver", dig("spec", "driver")), ("spec.nodeName", dig("spec", "nodeName"))),
    ),
    ResourceType("resource.k8s.io", "v1", "resourceclaims", "ResourceClaim", True, has_status=True),
    ResourceType("resource.k8s.io", "v1", "resourceclaimtemplates", "ResourceClaimTemplate", True),
    ResourceType("resource.k8s.io", "v1", "deviceclasses", "DeviceClass", namespaced=False),
    ResourceType(
        "", "v1", "nodes", "Node", namespaced=False, has_status=True,
        field_labels=(("spec.unschedulable", lambda o: str(bool(dig("spec", "unschedulable")(o))).lower()),),
    ),
    ResourceType(
        "", "v1", "pods", "Pod", namespaced=True, has_status=True,
        field_labels=(("spec.nodeName", dig("spec", "nodeName")), ("status.phase", dig("status", "phase"))),
    ),
    # The plugin's per-claim MPS control daemons (dra.plugin.mps_pods); stored as sent.
    ResourceType("apps", "v1", "deployments", "Deployment", namespaced=True, has_status=True),
)

KINDS: dict[str, ResourceType] = {t.kind: t for t in RESOURCE_TYPES}


_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# generateName suffix alphabet of k8s.io/apimachinery/pkg/util/rand (no vowels, no confusables).
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def now_rfc3339() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ObjectStore:
    """Thread-safe storage of every object, keyed by (kind, namespace, name)."""

    seed: int | None = None
    _objects: dict[tuple[str, str, str], Obj] = field(default_factory=dict)
    _rv: int = 1000
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    # --- bookkeeping -------------------------------------------------------------------------
    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    @property
    def resource_version(self) -> str:
        with self._lock:
            return str(self._rv)

    def _key(self, rtype: ResourceType, namespace: str | None, name: str) -> tuple[str, str, str]:
        return (rtype.kind, (namespace or "") if rtype.namespaced else "", name)

    # --- reads -------------------------------------------------------------------------------
    def get(self, rtype: ResourceType, namespace: str | None, name: str) -> Obj:
        with self._lock:
            obj = self._objects.get(self._key(rtype, namespace, name))
            if obj is None:
                raise not_found(rtype, name)
            return copy.deepcopy(obj)

    def list(self, rtype: ResourceType, namespace: str | None = None, *, label_selector: str = "",
             field_selector: str = "") -> list[Obj]:
        labels = parse_label_selector(label_selector)
        fields = parse_field_selector(rtype, field_selector)
        with self._lock:
            found = [
                copy.deepcopy(obj) for (kind, ns, _), obj in sorted(self._objects.items())
                if kind == rtype.kind and (namespace is None or ns == namespace)
                and labels(obj) and fields(obj)
            ]
        return found

    # --- writes ------------------------------------------------------------------------------
    def create(self, rtype: ResourceType, namespace: str | None, obj: Obj) -> Obj:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {}) or {}
        obj["metadata"] = meta
        with self._lock:
            if not meta.get("name"):
                prefix = meta.get("generateName")
                if not prefix:
                    raise invalid(rtype, "", [("metadata.name", "Required value: name or generateName is required")])
                prefix = prefix[:58]  # as upstream: the base is cut so that base + suffix fits 63
                for _ in range(100):
                    name = prefix + "".join(self._random.choice(_SUFFIX_ALPHABET) for _ in range(5))
                    if self._key(rtype, namespace, name) not in self._objects:
                        break
                meta["name"] = name
            name = meta["name"]
            if len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
                raise invalid(rtype, name, [("metadata.name", f'Invalid value: "{name}": a lowercase RFC 1123 '
                                             "subdomain must consist of lower case alphanumeric characters, '-' "
                                             "or '.', and must start and end with an alphanumeric character")])
            key = self._key(rtype, namespace, name)
            if key in self._objects:
                raise StatusError(409, "AlreadyExists", f'{rtype.group_resource} "{name}" already exists',
                                  rtype=rtype, name=name)
            if rtype.namespaced:
                meta["namespace"] = namespace
            else:
                meta.pop("namespace", None)
            for server_owned in ("resourceVersion", "uid", "creationTimestamp", "deletionTimestamp",
                                 "generation", "selfLink", "managedFields"):
                meta.pop(server_owned, None)
            meta["uid"] = str(uuid.UUID(int=self._random.getrandbits(128), version=4))
            meta["creationTimestamp"] = now_rfc3339()
            meta["generation"] = 1
            meta["resourceVersion"] = self._next_rv()
            if rtype.has_status:
                obj.pop("status", None)  # status is written through the subresource only
            obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
            self._objects[key] = obj
            return copy.deepcopy(obj)

    def update(self, rtype: ResourceType, namespace: str | None, name: str, obj: Obj, *,
               subresource: str | None = None) -> Obj:
        obj = copy.deepcopy(obj)
        meta = obj.get("metadata") or {}
        if meta.get("name", name) != name:
            raise bad_request(f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})")
        with self._lock:
            key = self._key(rtype, namespace, name)
            current = self._objects.get(key)
            if current is None:
                raise not_found(rtype, name)
            sent_rv = meta.get("resourceVersion")
            if not sent_rv:
                raise invalid(rtype, name, [("metadata.resourceVersion",
                                             "Invalid value: 0x0: must be specified for an update")])
            if sent_rv != current["metadata"]["resourceVersion"]:
                raise conflict(rtype, name, "the object has been modified; please apply your changes to the "
                                            "latest version and try again")
            cur_meta = current["metadata"]
            if meta.get("uid") and meta["uid"] != cur_meta["uid"]:
                raise conflict(rtype, name, f"Precondition failed: UID in precondition: {meta['uid']}, "
                                            f"UID in object meta: {cur_meta['uid']}")
            if subresource == "status":
                new = copy.deepcopy(current)
                if "status" in obj:
                    new["status"] = obj["status"]
                else:
                    new.pop("status", None)
            else:
                new = obj
                new_meta = new.setdefault("metadata", {})
                for kept in ("uid", "creationTimestamp", "generation", "deletionTimestamp", "namespace"):
                    if kept in cur_meta:
                        new_meta[kept] = cur_meta[kept]
                    else:
                        new_meta.pop(kept, None)
                new_meta["name"] = name
                if rtype.has_status:
                    if "status" in current:
                        new["status"] = current["status"]
                    else:
                        new.pop("status", None)
                if _spec_part(new) != _spec_part(current):
                    new_meta["generation"] = int(cur_meta.get("generation", 1)) + 1
                if cur_meta.get("deletionTimestamp") and not new_meta.get("finalizers"):
                    del self._objects[key]  # last finalizer removed: the pending delete completes
                    new_meta["resourceVersion"] = self._next_rv()
                    return copy.deepcopy(new)
            new["apiVersion"], new["kind"] = rtype.api_version, rtype.kind
            new["metadata"]["resourceVersion"] = self._next_rv()
            self._objects[key] = new
            return copy.deepcopy(new)

    def delete(self, rtype: ResourceType, namespace: str | None, name: str,
               preconditions: dict[str, Any] | None = None) -> Obj:
        with self._lock:
            key = self._key(rtype, namespace, name)
            current = self._objects.get(key)
            if current is None:
                raise not_found(rtype, name)
            meta = current["metadata"]
            pre = preconditions or {}
            if pre.get("uid") and pre["uid"] != meta["uid"]:
                raise conflict(rtype, name, f"Precondition failed: UID in precondition: {pre['uid']}, "
                                            f"UID in object meta: {meta['uid']}")
            if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
                raise conflict(rtype, name, "Precondition failed: ResourceVersion in precondition: "
                                            f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                                            f"{meta['resourceVersion']}")
            if meta.get("finalizers"):
                if not meta.get("deletionTimestamp"):
                    meta["deletionTimestamp"] = now_rfc3339()
                    meta["resourceVersion"] = self._next_rv()
                return copy.deepcopy(current)
            del self._objects[key]
            self._next_rv()
            return copy.deepcopy(current)

    # --- direct access for tests -------------------------------------------------------------
    def put(self, rtype: ResourceType, obj: Obj) -> Obj:
        """Store ``obj`` as it is, creating or overwriting (no validation, no preconditions).

        Server-owned metadata is filled in where missing; ``resourceVersion`` always advances.
        """
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if rtype.namespaced:
            meta.setdefault("namespace", "default")
        else:
            meta.pop("namespace", None)
        with self._lock:
            if not meta.get("name"):
                if not meta.get("generateName"):
                    raise ValueError(f"{rtype.kind} needs metadata.name or metadata.generateName")
                meta["name"] = meta["generateName"] + "".join(
                    self._random.choice(_SUFFIX_ALPHABET) for _ in range(5))
            key = self._key(rtype, meta.get("namespace"), meta["name"])
            current = self._objects.get(key)
            cur_meta = current["metadata"] if current else {}
            meta.setdefault("uid", cur_meta.get("uid") or str(uuid.UUID(int=self._random.getrandbits(128), version=4)))
            meta.setdefault("creationTimestamp", cur_meta.get("creationTimestamp") or now_rfc3339())
            if "generation" not in meta:
                changed = current is None or _spec_part(current) != _spec_part(obj)
                meta["generation"] = int(cur_meta.get("generation", 0)) + (1 if changed else 0) or 1
            meta["resourceVersion"] = self._next_rv()
            obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
            self._objects[key] = obj
            return copy.deepcopy(obj)

    def remove(self, rtype: ResourceType, namespace: str | None, name: str) -> None:
        """Drop an object outright (no finalizers, no preconditions); missing is fine."""
        with self._lock:
            if self._objects.pop(self._key(rtype, namespace, name), None) is not None:
                self._next_rv()


def _spec_part(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}
