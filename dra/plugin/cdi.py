"""Per-claim CDI spec files (Container Device Interface).

For every prepared claim we write one transient spec ``<vendor>-<class>_<claimUID>.json``
into the CDI directory (``/var/run/cdi``) and hand the kubelet the fully qualified names
``<vendor>/<class>=<claimUID>-<device>``. The container runtime reads the file when it
creates the container. Names embed the claim UID because runtimes may cache specs, so a
name must never be reused for different edits.

Files are written atomically (temporary file in the same directory, then rename; see
``files`` for why no fsync): the runtime only reads ``*.json``/``*.yaml``, so it never sees a
half-written spec under the final name. The spec's annotations carry the claim's identity and prepared
devices, so a lost checkpoint can be rebuilt from these files.

``cdiVersion`` is the lowest version that has every field we use (runtimes reject versions
they do not know, so asking for more than needed only loses compatibility).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dra.plugin.files import atomic_write

ANNOTATION_PREFIX = "dra.gpu.nvidia.com"
ANNOTATION_CLAIM = f"{ANNOTATION_PREFIX}/claim"
ANNOTATION_CLAIM_UID = f"{ANNOTATION_PREFIX}/claim-uid"
ANNOTATION_DEVICES = f"{ANNOTATION_PREFIX}/prepared-devices"
CDI_CLASS = "claim"
_DEVICE_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.:-]*[A-Za-z0-9])?$")


@dataclass
class ContainerEdits:
    env: list[str] = field(default_factory=list)
    device_nodes: list[dict[str, Any]] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    hooks: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.env:
            out["env"] = list(self.env)
        if self.device_nodes:
            out["deviceNodes"] = list(self.device_nodes)
        if self.mounts:
            out["mounts"] = list(self.mounts)
        if self.hooks:
            out["hooks"] = list(self.hooks)
        return out

    def extend(self, other: "ContainerEdits") -> None:
        self.env.extend(e for e in other.env if e not in self.env)
        self.device_nodes.extend(d for d in other.device_nodes if d not in self.device_nodes)
        self.mounts.extend(m for m in other.mounts if m not in self.mounts)
        self.hooks.extend(h for h in other.hooks if h not in self.hooks)


@dataclass
class CdiDevice:
    name: str
    edits: ContainerEdits


def minimum_version(spec: dict[str, Any]) -> str:
    """Lowest CDI version that defines every field present in ``spec`` (see CDI 1.1.0)."""
    edits = [spec.get("containerEdits", {})] + [d.get("containerEdits", {}) for d in spec["devices"]]
    if any(e.get("netDevices") for e in edits):
        return "1.1.0"
    if any(e.get("intelRdt") or e.get("additionalGids") for e in edits):
        return "0.7.0"
    if spec.get("annotations") or any(d.get("annotations") for d in spec["devices"]):
        return "0.6.0"
    if any(n.get("hostPath") for e in edits for n in e.get("deviceNodes", [])):
        return "0.5.0"
    if any(m.get("type") for e in edits for m in e.get("mounts", [])):
        return "0.4.0"
    return "0.3.0"


class CdiWriter:
    """Writes and removes the per-claim spec files of one driver in one CDI directory."""

    def __init__(
        self,
        cdi_root: Path,
        driver: str,
        driver_edits: ContainerEdits | None = None,
        annotations: dict[str, str] | None = None,
    ) -> None:
        self.root = Path(cdi_root)
        self.vendor = f"k8s.{driver}"
        self.kind = f"{self.vendor}/{CDI_CLASS}"
        # The host driver's files (``driverfiles``): part of every claim's spec.
        self.driver_edits = driver_edits or ContainerEdits()
        self.annotations = dict(annotations or {})

    def device_name(self, claim_uid: str, device: str, share_id: str | None = None) -> str:
        name = f"{claim_uid}-{device}" + (f"-{share_id}" if share_id else "")
        if not _DEVICE_NAME.fullmatch(name):
            raise ValueError(f"invalid CDI device name {name!r}")
        return name

    def qualified(self, name: str) -> str:
        return f"{self.kind}={name}"

    def spec_path(self, claim_uid: str) -> Path:
        return self.root / f"{self.vendor}-{CDI_CLASS}_{claim_uid.replace('/', '_')}.json"

    def build_spec(
        self,
        claim: str,
        claim_uid: str,
        devices: list[CdiDevice],
        common: ContainerEdits,
        records: list[dict[str, Any]],
    ) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "cdiVersion": "",
            "kind": self.kind,
            "annotations": {
                **self.annotations,
                ANNOTATION_CLAIM: claim,
                ANNOTATION_CLAIM_UID: claim_uid,
                # The checkpoint's device records: enough to rebuild a lost checkpoint.
                ANNOTATION_DEVICES: json.dumps(records, sort_keys=True, separators=(",", ":")),
            },
            "devices": [{"name": d.name, "containerEdits": d.edits.to_json()} for d in devices],
        }
        merged = ContainerEdits()
        merged.extend(common)
        merged.extend(self.driver_edits)
        common_json = merged.to_json()
        if common_json:
            spec["containerEdits"] = common_json
        spec["cdiVersion"] = minimum_version(spec)
        return spec

    def write(self, claim_uid: str, spec: dict[str, Any]) -> Path:
        path = self.spec_path(claim_uid)
        atomic_write(path, json.dumps(spec, indent=2, sort_keys=True).encode())
        return path

    def remove(self, claim_uid: str) -> bool:
        try:
            self.spec_path(claim_uid).unlink()
        except FileNotFoundError:
            return False
        return True

    def claim_specs(self) -> dict[str, Path]:
        """Our per-claim spec files on disk, by claim UID."""
        prefix = f"{self.vendor}-{CDI_CLASS}_"
        found = {}
        if self.root.is_dir():
            for path in self.root.glob(f"{prefix}*.json"):
                found[path.name[len(prefix):-len(".json")]] = path
        return found

    @staticmethod
    def read_annotations(path: Path) -> dict[str, str]:
        return dict(json.loads(path.read_text()).get("annotations", {}))
