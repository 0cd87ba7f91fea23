"""Our objects against a real kube-apiserver: slices round-trip identical, manifests are accepted.

* every ``dra slices`` output (each built-in profile in each mode, for the cluster's version) is
  created server-side and read back; the stored spec must equal what we sent, field by field
  (a field the server drops because of a gate, or a quantity it re-formats, is a failure);
* every manifest in ``manifests/`` is applied server-side (DeviceClasses and deploy/ for real,
  examples with dry-run=server, since their Pods would otherwise stay around);
* the real ``helm template``/``helm lint`` when ``dra.testing.helm`` (the helm build) is there;
* our DRA gate table (:mod:`dra.versions`) against the gates the real binary knows.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from dra.gpu.builtin import NODE_SHAPES, load_profile
from dra.slices import MODES, build_slices
from dra.testing.cluster.rest import raw as _raw
from dra.versions import default_gates

pytestmark = pytest.mark.real

REPO = Path(__file__).resolve().parents[2]
KUBECTL = "/usr/bin/kubectl"


def test_gate_table_matches_the_binary(cluster):
    """Every DRA gate we model exists in the binary with the default we say (from ``--help``)."""
    out = subprocess.run([str(cluster.binaries.kube_apiserver), "--help"], capture_output=True, text=True,
                         timeout=60).stdout
    real = {m[1]: m[2] == "true" for m in re.finditer(r"\b(\w+)=true\|false \((?:ALPHA|BETA) - default=(\w+)\)", out)}
    ours = default_gates(cluster.version.minor)
    problems = [f"{g}: ours default={v}, binary default={real[g]}" for g, v in ours.items() if g in real and real[g] != v]
    # A gate the binary does not list is either GA (locked, listed no more) or missing from the release.
    problems += [f"{g}: ours default={v}, not an alpha/beta gate of the binary" for g, v in ours.items()
                 if g not in real and not v]
    dra_real = {g for g in real if g.startswith("DRA")}
    problems += [f"{g}: the binary has it (default={real[g]}), our table does not" for g in sorted(dra_real - set(ours))]
    assert not problems, f"Kubernetes {cluster.binaries.version}: " + "; ".join(problems)


PROFILES = sorted(NODE_SHAPES)


@pytest.mark.parametrize("mode", MODES)
def test_slices_round_trip(cluster, mode):
    """Every built-in profile's slices in ``mode``: created, read back identical, then deleted."""
    api = cluster.api_client()
    failures = []
    created = 0
    for profile in PROFILES:
        node = f"rt-{profile}-{mode}"
        try:
            slices = build_slices(load_profile(profile, node), mode=mode, k8s_version=cluster.version.minor)
        except Exception as e:  # a profile that cannot be shown in this mode (no MIG): the builder says so
            failures.append(f"{profile}: builder: {e}") if "MIG" not in str(e) else None
            continue
        for s in slices:
            sent = s.to_dict()
            try:
                stored = _raw(api, "POST", "/apis/resource.k8s.io/v1/resourceslices", body=sent)
            except Exception as e:
                failures.append(f"{profile}/{sent['metadata']['name']}: create refused: {_reason(e)}")
                continue
            created += 1
            got = _raw(api, "GET", f"/apis/resource.k8s.io/v1/resourceslices/{stored['metadata']['name']}")
            if got["spec"] != sent["spec"]:
                failures.append(f"{profile}/{sent['metadata']['name']}: {_first_difference(sent['spec'], got['spec'])}")
    _raw(api, "DELETE", "/apis/resource.k8s.io/v1/resourceslices", query=[("labelSelector", "")])
    assert created, "no slice was created"
    assert not failures, f"{len(failures)} problem(s):\n" + "\n".join(failures[:20])


def _reason(e: Exception) -> str:
    body = getattr(e, "body", None)
    if body:
        try:
            return json.loads(body).get("message", str(body))[:500]
        except (ValueError, AttributeError):
            return str(body)[:500]
    return str(e)[:500]


def _first_difference(sent, got, path: str = "spec") -> str:
    if isinstance(sent, dict) and isinstance(got, dict):
        for k in sorted(set(sent) | set(got)):
            if k not in got:
                return f"{path}.{k}: dropped by the server (sent {json.dumps(sent[k])[:120]})"
            if k not in sent:
                return f"{path}.{k}: added by the server ({json.dumps(got[k])[:120]})"
            if sent[k] != got[k]:
                return _first_difference(sent[k], got[k], f"{path}.{k}")
    if isinstance(sent, list) and isinstance(got, list) and len(sent) == len(got):
        for i, (a, b) in enumerate(zip(sent, got)):
            if a != b:
                return _first_difference(a, b, f"{path}[{i}]")
    return f"{path}: sent {json.dumps(sent)[:160]}, stored {json.dumps(got)[:160]}"


def _kubectl(cluster, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([KUBECTL, "--kubeconfig", str(cluster.kubeconfig), *args], input=stdin,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def kubectl_ok():
    if not Path(KUBECTL).exists():
        pytest.skip(f"{KUBECTL} is not installed")


def test_deviceclasses_and_deploy_apply(cluster, kubectl_ok):
    """DeviceClasses and the deploy manifests are accepted by the real API server (server-side apply)."""
    for target in ("manifests/deviceclasses.yaml", "manifests/deploy"):
        if target.endswith("deploy") and (REPO / target / "kustomization.yaml").exists():
            args = ["apply", "--server-side", "--force-conflicts", "-k", str(REPO / target)]
        else:
            args = ["apply", "--server-side", "--force-conflicts", "-f", str(REPO / target)]
        proc = _kubectl(cluster, *args)
        assert proc.returncode == 0, f"kubectl {' '.join(args)}: {proc.stderr.strip()}"
    names = _kubectl(cluster, "get", "deviceclasses", "-o", "name").stdout.split()
    expected = [d["metadata"]["name"] for d in yaml.safe_load_all((REPO / "manifests/deviceclasses.yaml").read_text()) if d]
    assert sorted(n.split("/")[-1] for n in names) >= sorted(expected)


@pytest.mark.parametrize("example", sorted(p.name for p in (REPO / "manifests/examples").glob("*.yaml")))
def test_examples_accepted(cluster, kubectl_ok, example):
    """Each example is valid for the real API server (dry-run=server: nothing is created)."""
    _kubectl(cluster, "apply", "--server-side", "--force-conflicts", "-f", str(REPO / "manifests/deviceclasses.yaml"))
    proc = _kubectl(cluster, "apply", "--server-side", "--dry-run=server", "-f",
                    str(REPO / "manifests/examples" / example))
    assert proc.returncode == 0, f"{example}: {proc.stderr.strip()}"


def test_helm_chart_renders_lints_and_applies(cluster, kubectl_ok, tmp_path):
    """The chart rendered by the real helm, linted, and the output applied server-side (dry-run)."""
    helm_mod = pytest.importorskip("dra.testing.helm", reason="dra.testing.helm (the helm build) is not on this branch")
    try:
        helm = str(helm_mod.ensure_helm())
    except Exception as e:  # the helm build's own one-line reason
        pytest.skip(f"helm: {e}")
    chart = REPO / "manifests/helm/dra-gpu-driver"
    lint = subprocess.run([helm, "lint", str(chart)], capture_output=True, text=True, timeout=300)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    rendered = subprocess.run([helm, "template", "dra-gpu", str(chart), "--namespace", "dra-gpu-driver"],
                              capture_output=True, text=True, timeout=300)
    assert rendered.returncode == 0, rendered.stderr
    _kubectl(cluster, "create", "namespace", "dra-gpu-driver")
    proc = _kubectl(cluster, "apply", "--server-side", "--dry-run=server", "-f", "-", stdin=rendered.stdout)
    assert proc.returncode == 0, proc.stderr
