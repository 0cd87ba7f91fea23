"""The plugin-registration service the kubelet's plugin watcher talks to.

Handshake (kubelet side): dial ``<driver>-reg.sock``, ``GetInfo`` -> check type, name and
versions -> register the DRA endpoint -> ``NotifyRegistrationStatus``. We answer ``GetInfo``
with the DRA socket path and the services we serve, most preferred first (the kubelet picks
the first one it supports), and remember what the kubelet told us so that readiness can
report it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import grpc

from dra.plugin.protos import pluginregistration_pb2 as pb
from dra.plugin.protos import pluginregistration_pb2_grpc as pb_grpc

PLUGIN_TYPE = "DRAPlugin"
# Advertised services in preference order (v1 first, as the Go helper does). A 1.37 kubelet
# opens the health stream only when a health service is listed, and prefers v1.
SERVICE_V1 = "v1.DRAPlugin"
SERVICE_V1BETA1 = "v1beta1.DRAPlugin"
SERVICE_HEALTH_V1 = "v1.DRAResourceHealth"
SERVICE_HEALTH = "v1alpha1.DRAResourceHealth"
HEALTH_SERVICES = (SERVICE_HEALTH_V1, SERVICE_HEALTH)
DEFAULT_SERVICES = (SERVICE_V1, SERVICE_V1BETA1, SERVICE_HEALTH_V1, SERVICE_HEALTH)

log = logging.getLogger(__name__)


@dataclass
class RegistrationState:
    """What the kubelet last told us (None until it has called NotifyRegistrationStatus)."""

    registered: bool | None = None
    error: str = ""


class RegistrationServicer(pb_grpc.RegistrationServicer):
    def __init__(self, driver: str, endpoint: str, services: tuple[str, ...] = DEFAULT_SERVICES):
        self._info = pb.PluginInfo(
            type=PLUGIN_TYPE, name=driver, endpoint=endpoint, supported_versions=list(services)
        )
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.state = RegistrationState()

    def GetInfo(self, request: pb.InfoRequest, context: grpc.ServicerContext) -> pb.PluginInfo:
        log.info("kubelet asked for plugin info", extra={"endpoint": self._info.endpoint})
        return self._info

    def NotifyRegistrationStatus(
        self, request: pb.RegistrationStatus, context: grpc.ServicerContext
    ) -> pb.RegistrationStatusResponse:
        with self._changed:
            self.state = RegistrationState(request.plugin_registered, request.error)
            self._changed.notify_all()
        if request.plugin_registered:
            log.info("registered with the kubelet")
        else:
            # Like the Go helper, a refusal is an error; we keep serving so that a
            # kubelet retry (e.g. after its restart) can still succeed.
            log.error("kubelet refused registration", extra={"reason": request.error})
        return pb.RegistrationStatusResponse()

    def wait_registered(self, timeout: float | None = None) -> bool:
        """Block until the kubelet reports success (True) or ``timeout`` passes (False)."""
        with self._changed:
            self._changed.wait_for(lambda: self.state.registered is True, timeout)
            return self.state.registered is True
