"""A stand-in for the kubelet's side of the plugin protocol, for tests and benchmarks.

It does what the kubelet's plugin manager and DRA manager do over the real sockets:

1. watch the registry directory until a ``*-reg.sock`` appears and dial it;
2. ``GetInfo`` (1 s timeout), check ``type == "DRAPlugin"``, pick the first entry of the
   plugin's ``supported_versions`` that this kubelet supports (default: ``v1.DRAPlugin``,
   ``v1beta1.DRAPlugin``), and report the outcome with ``NotifyRegistrationStatus``;
3. call ``NodePrepareResources`` / ``NodeUnprepareResources`` (45 s timeout) on the
   advertised endpoint with the chosen API version.

It is not the kubelet: no pod lifecycle, no plugin-watcher retries, no health stream.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import grpc

from dra.plugin.protos import dra_v1_pb2, dra_v1_pb2_grpc, dra_v1beta1_pb2, dra_v1beta1_pb2_grpc
from dra.plugin.protos import pluginregistration_pb2 as reg_pb
from dra.plugin.protos import pluginregistration_pb2_grpc as reg_grpc

_API = {
    "v1.DRAPlugin": (dra_v1_pb2, dra_v1_pb2_grpc.DRAPluginStub),
    "v1beta1.DRAPlugin": (dra_v1beta1_pb2, dra_v1beta1_pb2_grpc.DRAPluginStub),
}
CALL_TIMEOUT = 45.0


class RegistrationFailed(Exception):
    pass


@dataclass(frozen=True)
class ClaimResult:
    devices: list
    error: str


class KubeletStandIn:
    def __init__(self, registrar_dir: Path, supported: Iterable[str] = ("v1.DRAPlugin", "v1beta1.DRAPlugin")):
        self.registrar_dir = Path(registrar_dir)
        self.supported = tuple(supported)
        self.driver: str | None = None
        self.endpoint: str | None = None
        self.service: str | None = None
        self._channel: grpc.Channel | None = None
        self._stub = None
        self._pb = None

    def wait_for_socket(self, timeout: float = 10.0, pattern: str = "*-reg.sock") -> Path:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = sorted(self.registrar_dir.glob(pattern)) if self.registrar_dir.is_dir() else []
            if found:
                return found[0]
            time.sleep(0.02)
        raise TimeoutError(f"no registration socket appeared in {self.registrar_dir}")

    def register(self, timeout: float = 10.0, pattern: str = "*-reg.sock") -> str:
        """Run the handshake with the first socket matching ``pattern``; return the chosen service.

        Raises RegistrationFailed when the plugin's answer is refused.
        """
        sock = self.wait_for_socket(timeout, pattern)
        with grpc.insecure_channel(f"unix://{sock}") as channel:
            grpc.channel_ready_future(channel).result(timeout=timeout)
            stub = reg_grpc.RegistrationStub(channel)
            info = stub.GetInfo(reg_pb.InfoRequest(), timeout=1.0)
            error = ""
            if info.type != "DRAPlugin":
                error = f"no handler registered for plugin type: {info.type}"
            chosen = next((v for v in info.supported_versions if v in self.supported), None)
            if not error and chosen is None:
                error = (
                    "RegisterPlugin error -- plugin validation failed with err: none of the versions "
                    f"{list(info.supported_versions)} is supported"
                )
            stub.NotifyRegistrationStatus(
                reg_pb.RegistrationStatus(plugin_registered=not error, error=error), timeout=5.0
            )
            if error:
                raise RegistrationFailed(error)
        self.driver, self.endpoint, self.service = info.name, info.endpoint or str(sock), chosen
        self._pb, stub_cls = _API[chosen]
        self.close()
        self._channel = grpc.insecure_channel(f"unix://{self.endpoint}")
        self._stub = stub_cls(self._channel)
        return chosen

    def _claims(self, claims):
        return [self._pb.Claim(namespace=ns, name=name, uid=uid) for ns, name, uid in claims]

    def prepare(self, claims: list[tuple[str, str, str]], timeout: float = CALL_TIMEOUT) -> dict[str, ClaimResult]:
        """``claims``: (namespace, name, uid) triples. Returns the per-claim results by UID."""
        response = self._stub.NodePrepareResources(
            self._pb.NodePrepareResourcesRequest(claims=self._claims(claims)), timeout=timeout
        )
        return {uid: ClaimResult(list(r.devices), r.error) for uid, r in response.claims.items()}

    def unprepare(self, claims: list[tuple[str, str, str]], timeout: float = CALL_TIMEOUT) -> dict[str, str]:
        response = self._stub.NodeUnprepareResources(
            self._pb.NodeUnprepareResourcesRequest(claims=self._claims(claims)), timeout=timeout
        )
        return {uid: r.error for uid, r in response.claims.items()}

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None


def allocated_claim(
    name: str,
    uid: str,
    devices: list[tuple[str, str]],
    *,
    pool: str,
    namespace: str = "default",
    driver: str = "gpu.nvidia.com",
    device_class: str = "gpu.nvidia.com",
    configs: list[dict] | None = None,
    share_ids: list[str | None] | None = None,
) -> dict:
    """A ResourceClaim as the scheduler leaves it: ``devices`` are (request, device) pairs.

    ``configs`` are ``status.allocation.devices.config`` entries (source, requests, opaque).
    """
    requests = sorted({request.split("/")[0] for request, _ in devices})
    results = []
    for i, (request, device) in enumerate(devices):
        result = {"request": request, "driver": driver, "pool": pool, "device": device}
        if share_ids and share_ids[i]:
            result["shareID"] = share_ids[i]
        results.append(result)
    allocation: dict = {"devices": {"results": results}}
    if configs:
        allocation["devices"]["config"] = configs
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": name, "namespace": namespace, "uid": uid},
        "spec": {"devices": {"requests": [
            {"name": r, "exactly": {"deviceClassName": device_class}} for r in requests
        ]}},
        "status": {"allocation": allocation},
    }


def opaque_config(parameters: dict, *, requests: list[str] | None = None, source: str = "FromClaim",
                  driver: str = "gpu.nvidia.com") -> dict:
    entry: dict = {"source": source, "opaque": {"driver": driver, "parameters": parameters}}
    if requests:
        entry["requests"] = requests
    return entry
