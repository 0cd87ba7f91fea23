"""The DRAPlugin gRPC service (v1 and v1beta1) in front of the device state.

Both API versions share one implementation; they differ only in the ``share_id`` field of
``Device`` (v1 only). Every claim in a request gets an entry in the response map, whatever
happens to the others: a failure is reported in that claim's ``error`` and never as an
RPC-level error (which would make the kubelet ignore the whole answer). Even a claim with
an empty or malformed UID gets its own entry, under the UID it was sent with.

A request without claims is the liveness probe's no-op; it is answered but not counted.
"""

from __future__ import annotations

import logging
from typing import Protocol, Sequence

import grpc

from dra.plugin.metrics import PluginMetrics
from dra.plugin.protos import dra_v1_pb2, dra_v1_pb2_grpc, dra_v1beta1_pb2, dra_v1beta1_pb2_grpc
from dra.plugin.types import ClaimRef, PrepareOutcome

log = logging.getLogger(__name__)


class ClaimPreparer(Protocol):
    """What the service needs from the device state."""

    def prepare(self, claims: Sequence[ClaimRef]) -> dict[str, PrepareOutcome]: ...

    def unprepare(self, claims: Sequence[ClaimRef]) -> dict[str, PrepareOutcome]: ...


def _refs(claims) -> list[ClaimRef]:
    return [ClaimRef(namespace=c.namespace, name=c.name, uid=c.uid) for c in claims]


class _DraService:
    """Version-independent request handling; ``pb`` is the module of the API version."""

    api_version = ""

    def __init__(self, preparer: ClaimPreparer, metrics: PluginMetrics, pb) -> None:
        self._preparer = preparer
        self._metrics = metrics
        self._pb = pb

    def NodePrepareResources(self, request, context: grpc.ServicerContext):
        pb = self._pb
        if not request.claims:
            # The liveness probe's no-op call: answer without counting it as traffic.
            return pb.NodePrepareResourcesResponse()
        with self._metrics.track("prepare", self.api_version):
            outcomes = self._preparer.prepare(_refs(request.claims))
            response = pb.NodePrepareResourcesResponse()
            for uid, outcome in outcomes.items():
                entry = response.claims[uid]
                self._metrics.claim_result("prepare", outcome.error_type)
                if outcome.error:
                    entry.error = outcome.error
                    continue
                for dev in outcome.devices:
                    out = entry.devices.add(
                        request_names=list(dev.request_names),
                        pool_name=dev.pool_name,
                        device_name=dev.device_name,
                        cdi_device_ids=list(dev.cdi_device_ids),
                    )
                    if dev.share_id is not None and self.api_version == "v1":
                        out.share_id = dev.share_id
            return response

    def NodeUnprepareResources(self, request, context: grpc.ServicerContext):
        pb = self._pb
        with self._metrics.track("unprepare", self.api_version):
            outcomes = self._preparer.unprepare(_refs(request.claims))
            response = pb.NodeUnprepareResourcesResponse()
            for uid, outcome in outcomes.items():
                self._metrics.claim_result("unprepare", outcome.error_type)
                response.claims[uid].error = outcome.error
            return response


class DraServiceV1(_DraService, dra_v1_pb2_grpc.DRAPluginServicer):
    api_version = "v1"

    def __init__(self, preparer: ClaimPreparer, metrics: PluginMetrics) -> None:
        super().__init__(preparer, metrics, dra_v1_pb2)


class DraServiceV1beta1(_DraService, dra_v1beta1_pb2_grpc.DRAPluginServicer):
    api_version = "v1beta1"

    def __init__(self, preparer: ClaimPreparer, metrics: PluginMetrics) -> None:
        super().__init__(preparer, metrics, dra_v1beta1_pb2)
