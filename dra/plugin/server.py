"""The two gRPC servers of the plugin and their sockets.

The DRA service socket is bound first and the registration socket last, as the Go helper
does: the kubelet dials the DRA endpoint as soon as it learns it from ``GetInfo``, so it must
already be listening. Stopping reverses the order: the registration socket disappears first
(the kubelet de-registers the plugin), then in-flight DRA calls get a grace period.
"""

from __future__ import annotations

import logging
from concurrent import futures

import grpc

from dra.plugin.metrics import PluginMetrics
from dra.plugin.protos import (
    dra_health_v1_pb2_grpc,
    dra_health_v1alpha1_pb2_grpc,
    dra_v1_pb2_grpc,
    dra_v1beta1_pb2_grpc,
    pluginregistration_pb2_grpc,
)
from dra.plugin.registration import DEFAULT_SERVICES, HEALTH_SERVICES, RegistrationServicer
from dra.plugin.service import ClaimPreparer, DraServiceV1, DraServiceV1beta1
from dra.plugin.sockets import SocketLayout, clear_stale_socket, remove_socket, secure_socket

log = logging.getLogger(__name__)


class PluginServer:
    def __init__(
        self,
        layout: SocketLayout,
        preparer: ClaimPreparer,
        metrics: PluginMetrics,
        health_servicer=None,
        max_workers: int = 16,
    ) -> None:
        self.layout = layout
        services = DEFAULT_SERVICES if health_servicer else tuple(s for s in DEFAULT_SERVICES if s not in HEALTH_SERVICES)
        self.registration = RegistrationServicer(layout.driver, str(layout.dra_socket), services)
        self._preparer = preparer
        self._metrics = metrics
        self._health = health_servicer
        self._max_workers = max_workers
        self._dra: grpc.Server | None = None
        self._reg: grpc.Server | None = None

    def start(self) -> None:
        self.layout.make_dirs()
        for path in self.layout.remove_dead_sockets():
            log.info("removed the socket of an instance that is gone", extra={"path": str(path)})
        dra_path = self.layout.dra_socket
        reg_path = self.layout.registration_socket
        clear_stale_socket(dra_path)
        clear_stale_socket(reg_path)

        self._dra = grpc.server(futures.ThreadPoolExecutor(self._max_workers, thread_name_prefix="dra-grpc"))
        dra_v1_pb2_grpc.add_DRAPluginServicer_to_server(DraServiceV1(self._preparer, self._metrics), self._dra)
        dra_v1beta1_pb2_grpc.add_DRAPluginServicer_to_server(
            DraServiceV1beta1(self._preparer, self._metrics), self._dra
        )
        if self._health is not None:
            # The same stream under both versions: 1.37 kubelets prefer v1, older ones know v1alpha1.
            from dra.plugin.health import HealthServicerV1

            dra_health_v1_pb2_grpc.add_DRAResourceHealthServicer_to_server(
                self._health.other_version(HealthServicerV1), self._dra
            )
            dra_health_v1alpha1_pb2_grpc.add_DRAResourceHealthServicer_to_server(self._health, self._dra)
        self._dra.add_insecure_port(f"unix://{dra_path}")
        self._dra.start()
        secure_socket(dra_path)

        self._reg = grpc.server(futures.ThreadPoolExecutor(2, thread_name_prefix="dra-reg"))
        pluginregistration_pb2_grpc.add_RegistrationServicer_to_server(self.registration, self._reg)
        self._reg.add_insecure_port(f"unix://{reg_path}")
        self._reg.start()
        secure_socket(reg_path)
        log.info("serving", extra={"dra_socket": str(dra_path), "registration_socket": str(reg_path)})

    def stop(self, grace: float = 5.0) -> None:
        if self._reg is not None:
            self._reg.stop(0).wait()
            remove_socket(self.layout.registration_socket)
            self._reg = None
        if self._dra is not None:
            self._dra.stop(grace).wait()
            remove_socket(self.layout.dra_socket)
            self._dra = None
