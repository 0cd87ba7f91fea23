"""Deployment manifests and the Helm chart validate against the Kubernetes 1.34 schema.

Helm itself cannot be installed from the package registries this project may use, so the
chart is rendered here by a small renderer for the subset of Go templates the chart is
written in (``{{ .Values.x }}``, ``.Release``/``.Chart`` fields, ``if``/``else``/``end``,
``quote``, ``toYaml``, ``nindent``, ``.Files.Get``, and ``{{-``/``-}}`` whitespace
trimming). The renderer refuses anything else, so a template that strays from the subset
fails this test instead of being rendered wrongly. If a ``helm`` binary is on PATH, the
chart is also rendered with ``helm template`` and both renderings must agree.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from dra.testing.schema import schema_errors, schema_version

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "manifests" / "deploy"
CHART = ROOT / "manifests" / "helm" / "dra-gpu-driver"
K8S = "1.34"

# ---------------------------------------------------------------------------- renderer

_ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)


class TemplateError(Exception):
    pass


def _lookup(ctx: dict, ref: str):
    if not ref.startswith("."):
        raise TemplateError(f"unsupported term {ref!r}")
    value = ctx
    for part in ref[1:].split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _to_yaml(value) -> str:
    return yaml.safe_dump(value, default_flow_style=False, sort_keys=True).rstrip("\n")


def _term(ctx: dict, token: str):
    if token.startswith('"') and token.endswith('"'):
        return json.loads(token)
    if re.fullmatch(r"-?\d+", token):
        return int(token)
    return _lookup(ctx, token)


def _evaluate(ctx: dict, expr: str):
    stages = [s.split() for s in expr.split("|")]
    value = None
    for i, words in enumerate(stages):
        head, args = words[0], [_term(ctx, w) for w in words[1:]]
        if i > 0:
            args.append(value)
        if head.startswith(".") and not args:
            if head == ".Files.Get":
                raise TemplateError(".Files.Get needs a path")
            value = _lookup(ctx, head)
        elif head == ".Files.Get":
            value = (CHART / args[0]).read_text()
        elif head == "quote":
            value = json.dumps("" if args[0] is None else str(args[0]))
        elif head == "toYaml":
            value = _to_yaml(args[0])
        elif head in ("nindent", "indent"):
            pad = " " * args[0]
            text = "\n".join(pad + line if line else line for line in str(args[1]).split("\n"))
            value = ("\n" + text) if head == "nindent" else text
        else:
            raise TemplateError(f"unsupported function {head!r}")
    return value


def _format(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render(text: str, ctx: dict) -> str:
    out: list[str] = []
    stack: list[tuple[bool, bool]] = []  # (this branch active, parent active)
    pos = 0
    active = True
    for match in _ACTION.finditer(text):
        literal = text[pos:match.start()]
        if match.group(1):
            literal = literal.rstrip(" \t\n")
        if active:
            out.append(literal)
        pos = match.end()
        if match.group(3):
            rest = text[pos:]
            pos += len(rest) - len(rest.lstrip(" \t\n"))
        action = match.group(2)
        if action.startswith("/*"):
            continue
        word = action.split()[0]
        if word == "if":
            cond = bool(_evaluate(ctx, action[2:].strip()))
            stack.append((cond, active))
            active = active and cond
        elif word == "else":
            cond, parent = stack[-1]
            stack[-1] = (not cond, parent)
            active = parent and not cond
        elif word == "end":
            _, active = stack.pop()
        elif word in ("range", "with", "define", "include", "template", "block"):
            raise TemplateError(f"unsupported action {word!r}")
        elif active:
            out.append(_format(_evaluate(ctx, action)))
    if stack:
        raise TemplateError("unclosed if")
    out.append(text[pos:])
    return "".join(out)


def render_chart(values_override: dict | None = None, namespace: str = "dra-gpu", name: str = "gpu") -> list[dict]:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for key, value in (values_override or {}).items():
        target = values
        *parents, last = key.split(".")
        for p in parents:
            target = target[p]
        target[last] = value
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    ctx = {
        "Values": values,
        "Release": {"Name": name, "Namespace": namespace, "Service": "Helm"},
        "Chart": {"Name": chart["name"], "Version": chart["version"], "AppVersion": chart["appVersion"]},
    }
    docs = []
    for template in sorted((CHART / "templates").glob("*.yaml")):
        rendered = render(template.read_text(), ctx)
        docs.extend(d for d in yaml.safe_load_all(rendered) if d)
    return docs


# ---------------------------------------------------------------------------- tests

def _load(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _assert_valid(docs: list[dict]) -> None:
    assert docs
    for doc in docs:
        errors = schema_errors(doc, K8S)
        assert errors == [], f"{doc['kind']}/{doc['metadata']['name']}: {errors}"


def test_schema_version_is_1_34():
    assert schema_version(K8S) == "1.34"


def test_plain_manifests_validate():
    docs = [d for p in sorted(DEPLOY.glob("*.yaml")) if p.name != "kustomization.yaml" for d in _load(p)]
    _assert_valid(docs)
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted([
        "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
        "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "DaemonSet",
    ])
    listed = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(p.name for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml")


def test_deviceclasses_validate(shared_manifest=ROOT / "manifests" / "deviceclasses.yaml"):
    if not shared_manifest.exists():
        pytest.skip("manifests/deviceclasses.yaml not written yet (owned by the slices part)")
    _assert_valid(_load(shared_manifest))


def _daemonset(docs):
    return next(d for d in docs if d["kind"] == "DaemonSet")


def test_daemonset_mounts_and_rbac_are_least_privilege():
    docs = [d for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml" for d in _load(p)]
    pod = _daemonset(docs)["spec"]["template"]["spec"]
    paths = {v["hostPath"]["path"] for v in pod["volumes"]}
    assert paths == {"/var/lib/kubelet/plugins_registry", "/var/lib/kubelet/plugins", "/var/run/cdi",
                     "/", "/run/nvidia-dra/mps"}  # driver root (read-only) and the MPS pipe/log dir
    ro = {m["name"] for m in pod["containers"][0]["volumeMounts"] if m.get("readOnly")}
    assert ro == {"driver-root"}
    env = {e["name"] for e in pod["containers"][0]["env"]}
    assert {"NODE_NAME", "DRIVER_NAME", "CDI_ROOT", "POD_UID"} <= env
    rolling = _daemonset(docs)["spec"]["updateStrategy"]["rollingUpdate"]
    assert rolling == {"maxSurge": 1, "maxUnavailable": 0}  # needs the pod-UID sockets above
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    rules = {(tuple(r["apiGroups"]), tuple(r["resources"])): set(r["verbs"]) for r in role["rules"]}
    assert rules[(("resource.k8s.io",), ("resourceclaims",))] == {"get"}
    assert rules[(("resource.k8s.io",), ("resourceclaims/status",))] == {"update", "patch"}
    assert rules[(("resource.k8s.io",), ("resourceclaims/driver",))] == {"associated-node:update",
                                                                          "associated-node:patch"}
    assert rules[(("",), ("nodes",))] == {"get"}
    assert "deletecollection" not in rules[(("resource.k8s.io",), ("resourceslices",))]
    assert len(rules) == 5
    sa = next(d for d in docs if d["kind"] == "ServiceAccount")
    vap = next(d for d in docs if d["kind"] == "ValidatingAdmissionPolicy")
    user = f"system:serviceaccount:{sa['metadata']['namespace']}:{sa['metadata']['name']}"
    assert user in vap["spec"]["matchConditions"][0]["expression"]


def test_helm_chart_renders_and_validates():
    docs = render_chart()
    _assert_valid([d for d in docs if d["kind"] != "DeviceClass"] + (
        [d for d in docs if d["kind"] == "DeviceClass"]
    ))
    kinds = sorted(d["kind"] for d in docs)
    assert {"DaemonSet", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
            "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"} <= set(kinds)
    for doc in docs:
        if doc["kind"] in ("DaemonSet", "ServiceAccount"):
            assert doc["metadata"]["namespace"] == "dra-gpu"
    ds = _daemonset(docs)
    env = {e["name"]: e.get("value") for e in ds["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DRIVER_NAME"] == "gpu.nvidia.com" and env["HTTP_PORT"] == "8080"
    assert "GPU_PROFILE" not in env


def test_helm_values_change_the_rendering():
    docs = render_chart({
        "kubeletPlugin.profile": "dgx-h100",
        "kubeletPlugin.mode": "dynamic-mig",
        "kubeletPlugin.gpuNodeAffinity": False,
        "validatingAdmissionPolicy.enabled": False,
        "deviceClasses.enabled": False,
    })
    _assert_valid(docs)
    kinds = {d["kind"] for d in docs}
    assert "ValidatingAdmissionPolicy" not in kinds and "DeviceClass" not in kinds
    pod = _daemonset(docs)["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["GPU_PROFILE"] == "dgx-h100" and env["DEVICE_MODE"] == "dynamic-mig"
    assert "affinity" not in pod


def test_chart_installs_the_shared_deviceclasses():
    shared = ROOT / "manifests" / "deviceclasses.yaml"
    if not shared.exists():
        pytest.skip("manifests/deviceclasses.yaml not written yet (owned by the slices part)")
    rendered = [d for d in render_chart() if d["kind"] == "DeviceClass"]
    assert rendered == _load(shared)  # the chart ships the same file, not a copy


def test_renderer_refuses_what_it_does_not_know():
    with pytest.raises(TemplateError):
        render("{{ range .Values.x }}{{ end }}", {"Values": {"x": []}})
    with pytest.raises(TemplateError):
        render("{{ include \"x\" . }}", {})
    assert render("a\n{{- if .V }}\nb\n{{- else }}\nc\n{{- end }}\n", {"V": False}) == "a\nc\n"


@pytest.mark.skipif(shutil.which("helm") is None, reason="helm is not installed (not available from the package registries)")
def test_helm_template_agrees():
    out = subprocess.run(
        ["helm", "template", "gpu", str(CHART), "--namespace", "dra-gpu"],
        check=True, capture_output=True, text=True,
    ).stdout
    assert sorted(map(json.dumps, [d for d in yaml.safe_load_all(out) if d])) == sorted(map(json.dumps, render_chart()))


def test_dockerfile_runs_the_plugin_command():
    text = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["dra", "plugin", "run"]' in text
    for source in re.findall(r"^COPY (?!--)(\S+)", text, re.M):
        for item in source.split():
            assert (ROOT / item).exists(), f"Dockerfile copies missing {item}"
