"""A real Kubernetes control plane without nodes: etcd, kube-apiserver, kube-controller-manager, kube-scheduler.

Everything of one control plane lives in one directory::

    <dir>/pki/                 CA, serving and client certificates, service-account keys
    <dir>/etcd/                etcd's data
    <dir>/logs/<component>.log each component's output
    <dir>/admin.kubeconfig     cluster-admin (system:masters) kubeconfig
    <dir>/state.json           version, ports and process ids (what `dra cluster down` reads)

:meth:`ControlPlane.start` makes the PKI, starts the components in dependency order on free
127.0.0.1 ports and waits (bounded) for each to be ready; :meth:`ControlPlane.stop` stops them
in reverse order, one process group each. :meth:`ControlPlane.restart_apiserver` stops and
restarts only kube-apiserver on the same port (the tests use it to prove the publisher
survives an API server outage). :meth:`ControlPlane.load` reattaches to a detached control
plane from its ``state.json``.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from dra.testing.cluster.apiserver import apiserver_component
from dra.testing.cluster.build import KubeBinaries
from dra.testing.cluster.controllermanager import controller_manager_component
from dra.testing.cluster.etcd import etcd_component
from dra.testing.cluster.kubeconfig import write_kubeconfig
from dra.testing.cluster.pki import Pki, make_pki
from dra.testing.cluster.process import Component, ComponentError, free_port, http_ok, https_ok, pid_alive, stop_group
from dra.testing.cluster.scheduler import scheduler_component
from dra.versions import KubernetesVersion

Progress = Callable[[str], None]
START_TIMEOUT = 120.0  # seconds per component; a loaded 2-core CI machine needs most of it


def _quiet(_: str) -> None:
    pass


@dataclass
class ControlPlane:
    """One control plane of ``version`` in ``dir`` (see the module docstring for the layout)."""

    dir: Path
    version: KubernetesVersion
    binaries: KubeBinaries
    all_gates: bool = False
    ports: dict[str, int] = field(default_factory=dict)
    components: dict[str, Component] = field(default_factory=dict)

    @property
    def pki(self) -> Pki:
        return Pki(self.dir / "pki")

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "admin.kubeconfig"

    def log(self, name: str) -> Path:
        return self.dir / "logs" / f"{name}.log"

    # ------------------------------------------------------------------ start / stop
    def start(self, progress: Progress = _quiet) -> "ControlPlane":
        """Start everything; on any failure stop what was started and raise :class:`ComponentError`."""
        try:
            self._start(progress)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, progress: Progress) -> None:
        t0 = time.monotonic()
        self.dir.mkdir(parents=True, exist_ok=True)

        def step(what: str) -> None:
            progress(f"  {what} ({time.monotonic() - t0:.1f}s)")

        if not self.pki.ca_crt.exists():
            make_pki(self.pki.dir)
        step("certificates ready")
        for name in ("etcd", "etcd-peer", "apiserver", "scheduler", "controller-manager"):
            self.ports.setdefault(name, free_port())
        pki = self.pki
        b = self.binaries
        etcd = etcd_component(b.etcd, self.dir / "etcd", self.ports["etcd"], self.ports["etcd-peer"], self.log("etcd"))
        self._launch(etcd, lambda: http_ok(f"http://127.0.0.1:{self.ports['etcd']}/health"))
        step(f"etcd ready on 127.0.0.1:{self.ports['etcd']}")
        self._start_apiserver()
        step(f"kube-apiserver v{b.version} ready at {self.server}")
        write_kubeconfig(self.kubeconfig, self.server, pki.ca_crt, user="kubernetes-admin",
                         cert=pki.crt("admin"), key=pki.key("admin"))
        kcm_conf = write_kubeconfig(self.dir / "controller-manager.kubeconfig", self.server, pki.ca_crt,
                                    user="system:kube-controller-manager", cert=pki.crt("kube-controller-manager"),
                                    key=pki.key("kube-controller-manager"))
        sched_conf = write_kubeconfig(self.dir / "scheduler.kubeconfig", self.server, pki.ca_crt,
                                      user="system:kube-scheduler", cert=pki.crt("kube-scheduler"),
                                      key=pki.key("kube-scheduler"))
        kcm = controller_manager_component(b.kube_controller_manager, kcm_conf, pki, self.version,
                                           port=self.ports["controller-manager"], log=self.log("kube-controller-manager"))
        self._launch(kcm, lambda: https_ok(f"https://127.0.0.1:{self.ports['controller-manager']}/healthz", None))
        step("kube-controller-manager ready")
        sched = scheduler_component(b.kube_scheduler, sched_conf, self.version, port=self.ports["scheduler"],
                                    log=self.log("kube-scheduler"))
        self._launch(sched, lambda: https_ok(f"https://127.0.0.1:{self.ports['scheduler']}/healthz", None))
        step("kube-scheduler ready")
        self._wait_default_serviceaccount()
        step("default ServiceAccount created: cluster ready")
        self.save()

    def _launch(self, comp: Component, ready: Callable[[], bool]) -> None:
        self.components[comp.name] = comp
        comp.start()
        self.save()
        comp.wait_ready(ready, START_TIMEOUT)

    def _start_apiserver(self) -> None:
        api = apiserver_component(self.binaries.kube_apiserver, self.pki, self.version, port=self.ports["apiserver"],
                                  etcd_port=self.ports["etcd"], extra_api_versions=self.all_gates,
                                  log=self.log("kube-apiserver"))
        self._launch(api, lambda: https_ok(f"{self.server}/readyz", self.pki.ca_crt,
                                           (self.pki.crt("admin"), self.pki.key("admin"))))

    def _wait_default_serviceaccount(self, timeout: float = START_TIMEOUT) -> None:
        from kubernetes import client

        api = client.CoreV1Api(self.api_client())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(sa.metadata.name == "default" for sa in api.list_namespaced_service_account("default").items):
                return
            time.sleep(0.5)
        raise ComponentError(f"kube-controller-manager made no 'default' ServiceAccount in {timeout:.0f}s "
                             f"(log {self.log('kube-controller-manager')})")

    def restart_apiserver(self, down_for: float = 0.0) -> None:
        """Stop kube-apiserver, stay down ``down_for`` seconds, start it again on the same port."""
        self.stop_apiserver()
        time.sleep(down_for)
        self._start_apiserver()

    def stop_apiserver(self) -> None:
        comp = self.components.pop("kube-apiserver", None)
        if comp is not None:
            comp.stop()

    def stop(self) -> None:
        """Stop every component, newest first; safe to call twice and after a failed start."""
        for name in reversed(list(self.components)):
            self.components[name].stop()  # kept (pid None): status shows them as stopped
        if (self.dir / "state.json").exists():
            self.save()

    def running(self) -> dict[str, bool]:
        return {name: comp.alive() for name, comp in self.components.items()}

    def api_client(self, kubeconfig: Path | None = None):  # -> kubernetes.client.ApiClient
        """An official-client ApiClient for ``kubeconfig`` (default: the admin's)."""
        from kubernetes import client, config

        cfg = client.Configuration()
        config.load_kube_config(config_file=str(kubeconfig or self.kubeconfig), client_configuration=cfg)
        return client.ApiClient(cfg)

    # ------------------------------------------------------------------ state
    def save(self) -> None:
        state = {
            "version": self.version.minor,
            "patch": self.binaries.version,
            "gates": dict(self.version.gates),
            "all_gates": self.all_gates,
            "ports": self.ports,
            "server": self.server if "apiserver" in self.ports else None,
            "kubeconfig": str(self.kubeconfig),
            "binaries": {k: str(getattr(self.binaries, k)) for k in
                         ("kube_apiserver", "kube_scheduler", "kube_controller_manager", "etcd")},
            "components": {n: {"pid": c.pid, "argv": c.argv, "log": str(c.log)} for n, c in self.components.items()},
        }
        tmp = self.dir / "state.json.tmp"
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.dir / "state.json")

    @classmethod
    def load(cls, directory: Path) -> "ControlPlane":
        """Reattach to a control plane started (maybe by another process) in ``directory``."""
        state = json.loads((directory / "state.json").read_text())
        bins = KubeBinaries(state["patch"], *(Path(state["binaries"][k]) for k in
                            ("kube_apiserver", "kube_scheduler", "kube_controller_manager", "etcd")))
        cp = cls(directory, KubernetesVersion(state["version"], state["gates"]), bins, state["all_gates"],
                 dict(state["ports"]))
        for name, c in state["components"].items():
            comp = Component(name, c["argv"], Path(c["log"]), pid=c["pid"])
            if c["pid"] and not _is_ours(c["pid"], c["argv"][0]):
                comp.pid = None  # exited, and the pid may since belong to something else
            cp.components[name] = comp
        return cp


def _is_ours(pid: int, binary: str) -> bool:
    """The pid is alive and still runs ``binary`` (pids are reused; never signal a stranger)."""
    if not pid_alive(pid):
        return False
    try:
        exe = Path(f"/proc/{pid}/exe").resolve()
    except OSError:
        return False
    return exe == Path(binary).resolve()


def remove_dir(directory: Path) -> None:
    """Remove a stopped control plane's directory (only one that looks like ours)."""
    if (directory / "state.json").exists() or (directory / "pki" / "ca.crt").exists():
        shutil.rmtree(directory, ignore_errors=True)


__all__ = ["ControlPlane", "ComponentError", "remove_dir", "stop_group"]
