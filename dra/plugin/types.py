"""Plain values passed between the gRPC layer and the device state.

Kept free of protobuf and Kubernetes client types so that the core (``state``) can be
driven directly by tests and benchmarks without a socket in between.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ClaimRef:
    """What the kubelet sends for a claim: enough to fetch it, and its UID."""

    namespace: str
    name: str
    uid: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class PreparedDevice:
    """One device of a prepared claim, as reported back to the kubelet."""

    request_names: tuple[str, ...]
    pool_name: str
    device_name: str
    cdi_device_ids: tuple[str, ...]
    share_id: str | None = None

    def to_json(self) -> dict:
        data = {
            "requests": list(self.request_names),
            "poolName": self.pool_name,
            "deviceName": self.device_name,
            "cdiDeviceIDs": list(self.cdi_device_ids),
        }
        if self.share_id is not None:
            data["shareID"] = self.share_id
        return data

    @classmethod
    def from_json(cls, data: dict) -> "PreparedDevice":
        return cls(
            request_names=tuple(data.get("requests", ())),
            pool_name=data["poolName"],
            device_name=data["deviceName"],
            cdi_device_ids=tuple(data.get("cdiDeviceIDs", ())),
            share_id=data.get("shareID"),
        )


@dataclass
class PrepareOutcome:
    """Result for one claim: devices on success, or a one-line error."""

    devices: list[PreparedDevice] = field(default_factory=list)
    error: str = ""
    # Why it failed, for the errors-by-type metric (empty on success).
    error_type: str = ""
