"""Device metadata files for containers (KEP-5304; alpha in 1.36, beta in 1.37).

A container that uses a claim's devices can read what the driver published about them
from a file at a well-known path, instead of asking the API server:

    /var/run/kubernetes.io/dra-device-attributes/resourceclaims/<claim>/<request>/<driver>-metadata.json
    /var/run/kubernetes.io/dra-device-attributes/resourceclaimtemplates/<podClaimName>/<request>/<driver>-metadata.json

(the second for claims made from a template, recognised by the claim's
``resource.kubernetes.io/pod-claim-name`` annotation; ``<request>`` is the top-level request,
the JSON names ``request/subrequest``). The file on the host is
``<plugins-dir>/<driver>/dra-device-metadata/<namespace>_<claim>/<request>/metadata.json``,
as the Go helper lays it out, bind-mounted read-only through a CDI device of the claim's
spec (``<claimUID>-metadata-<request>``) whose id is added to every device of that request,
so only containers that use the request's devices see it.

Content: one ``DeviceMetadata`` object, ``apiVersion: metadata.resource.k8s.io/v1alpha1``
(the only version there is; the Go helper makes drivers pick versions explicitly), with the
claim's name, namespace, uid and ``generation: 1`` (a prepared claim's devices never change),
``podClaimName`` when the claim came from a template, and per request the devices with
driver, pool, name and the attributes the slice published for them.

Off unless ``--device-metadata`` is given (as the Go helper's ``EnableDeviceMetadata``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from dra.plugin.cdi import ContainerEdits
from dra.plugin.files import atomic_write

API_VERSION = "metadata.resource.k8s.io/v1alpha1"
CONTAINER_ROOT = "/var/run/kubernetes.io/dra-device-attributes"
SUBDIR = "dra-device-metadata"
POD_CLAIM_NAME = "resource.kubernetes.io/pod-claim-name"
MOUNT_OPTIONS = ["ro", "nosuid", "nodev", "bind"]


class DeviceMetadataWriter:
    def __init__(self, data_dir: Path, driver: str, attributes: dict[str, dict[str, Any]]) -> None:
        self.root = Path(data_dir) / SUBDIR
        self.driver = driver
        self._attributes = attributes  # device name -> {attribute name: typed value}

    def claim_dir(self, namespace: str, name: str) -> Path:
        return self.root / f"{namespace}_{name}"

    def container_path(self, claim_name: str, pod_claim_name: str | None, request: str) -> str:
        if pod_claim_name:
            return f"{CONTAINER_ROOT}/resourceclaimtemplates/{pod_claim_name}/{request}/{self.driver}-metadata.json"
        return f"{CONTAINER_ROOT}/resourceclaims/{claim_name}/{request}/{self.driver}-metadata.json"

    def write(self, namespace: str, name: str, uid: str, records: list[dict]) -> dict[str, ContainerEdits]:
        """Write one file per top-level request; return the CDI edits that mount each."""
        by_request: dict[str, list[dict]] = {}
        for rec in records:
            by_request.setdefault(rec["requests"][0], []).append(rec)
        pod_claim_name = next((r.get("podClaimName") for r in records if r.get("podClaimName")), None)
        edits = {}
        for request, recs in sorted(by_request.items()):
            full_names: dict[str, list[dict]] = {}
            for rec in recs:
                full_names.setdefault(rec.get("request") or request, []).append({
                    "driver": self.driver, "pool": rec["pool"], "name": rec["device"],
                    "attributes": self._attributes.get(rec["device"], {}),
                })
            doc: dict[str, Any] = {
                "kind": "DeviceMetadata", "apiVersion": API_VERSION,
                "metadata": {"name": name, "namespace": namespace, "uid": uid, "generation": 1},
            }
            if pod_claim_name:
                doc["podClaimName"] = pod_claim_name
            doc["requests"] = [{"name": n, "devices": d} for n, d in sorted(full_names.items())]
            path = self.claim_dir(namespace, name) / request / "metadata.json"
            atomic_write(path, json.dumps(doc, indent=2, sort_keys=False).encode() + b"\n")
            edits[request] = ContainerEdits(mounts=[{
                "hostPath": str(path), "containerPath": self.container_path(name, pod_claim_name, request),
                "options": list(MOUNT_OPTIONS)}])
        return edits

    def remove(self, namespace: str, name: str) -> None:
        shutil.rmtree(self.claim_dir(namespace, name), ignore_errors=True)

    def remove_stale(self, keep: set[tuple[str, str]]) -> list[str]:
        removed = []
        for path in sorted(self.root.iterdir()) if self.root.is_dir() else ():
            namespace, _, name = path.name.partition("_")
            if (namespace, name) not in keep:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
        return removed


def slice_attributes(slices) -> dict[str, dict[str, Any]]:
    """Device name -> its attributes as published, in the API's typed JSON form."""
    out: dict[str, dict[str, Any]] = {}
    for s in slices:
        for device in s.spec.devices or ():
            out[device.name] = {k: v.to_dict() for k, v in (device.attributes or {}).items()}
    return out
