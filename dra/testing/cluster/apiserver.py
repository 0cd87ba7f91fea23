"""kube-apiserver flags for a control plane without kubelets.

What is on, and why:

* ``--authorization-mode=Node,RBAC``: the plugin's ServiceAccount is judged by the same RBAC
  a real cluster uses (the Node authorizer is there because real clusters have it);
* admission ``NodeRestriction`` plus the defaults (ValidatingAdmissionPolicy among them), so
  ``manifests/deploy/vap.yaml`` is enforced for real;
* service-account signing keys, so TokenRequest issues pod-bound tokens whose claims carry the
  node name (the identity the plugin's VAP checks);
* ``resource.k8s.io/v1`` always; with every gate on, also v1beta1, v1beta2 and v1alpha3 (where
  the older versions keep alpha types such as DeviceTaintRule);
* ``--feature-gates``: only what differs from that version's defaults (our
  :class:`dra.versions.KubernetesVersion`), so a default cluster really runs the binary's own
  defaults. The real-cluster tests compare those defaults with ours.
"""

from __future__ import annotations

from pathlib import Path

from dra.testing.cluster.pki import Pki
from dra.testing.cluster.process import Component, argv
from dra.versions import KubernetesVersion, default_gates

SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"


# Gates outside our DRA table that a DRA gate needs on (kube-apiserver refuses to start otherwise:
# "X is enabled, but depends on features that are disabled"), as the binaries report them.
GATE_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "DRAPartitionableDevicesType": ("DRAResourcePoolStatus",),
}

# DRA gates a control plane here never turns on, even with "every gate on": they depend on
# APIs outside DRA that it does not serve. DRAWorkloadResourceClaims needs GenericWorkload, and
# with that on kube-scheduler waits forever for a scheduling.k8s.io PodGroup informer
# ("failed to list *v1beta1.PodGroup: the server could not find the requested resource") and
# schedules nothing.
NEVER_ON: frozenset[str] = frozenset({"DRAWorkloadResourceClaims"})


def gate_flag(version: KubernetesVersion) -> str | None:
    """``--feature-gates`` value: the gates whose value differs from the minor's default, plus what they need."""
    defaults = default_gates(version.minor)
    diff = {g: on for g, on in sorted(version.gates.items()) if defaults.get(g) != on and not (on and g in NEVER_ON)}
    for gate, needs in GATE_DEPENDENCIES.items():
        if version.gates.get(gate):
            diff.update({n: True for n in needs if n not in version.gates})
    return ",".join(f"{g}={'true' if on else 'false'}" for g, on in diff.items()) or None


def runtime_config(extra_versions: bool) -> str:
    parts = ["resource.k8s.io/v1=true"]
    if extra_versions:
        parts += ["resource.k8s.io/v1beta1=true", "resource.k8s.io/v1beta2=true", "resource.k8s.io/v1alpha3=true"]
    return ",".join(parts)


def apiserver_component(binary: Path, pki: Pki, version: KubernetesVersion, *, port: int, etcd_port: int,
                        extra_api_versions: bool, log: Path) -> Component:
    options: dict[str, object] = {
        "etcd_servers": f"http://127.0.0.1:{etcd_port}",
        "bind_address": "127.0.0.1",
        "advertise_address": "127.0.0.1",
        "secure_port": port,
        "tls_cert_file": pki.crt("apiserver"),
        "tls_private_key_file": pki.key("apiserver"),
        "client_ca_file": pki.ca_crt,
        "service_account_key_file": pki.sa_pub,
        "service_account_signing_key_file": pki.sa_key,
        "service_account_issuer": SERVICE_ACCOUNT_ISSUER,
        "service_cluster_ip_range": "10.0.0.0/24",
        "authorization_mode": "Node,RBAC",
        "enable_admission_plugins": "NodeRestriction",
        "runtime_config": runtime_config(extra_api_versions),
        "feature_gates": gate_flag(version),
        "allow_privileged": True,
        "endpoint_reconciler_type": "none",
        "profiling": False,
        "v": 1,
    }
    return Component("kube-apiserver", argv(binary, options), log)
