"""The body of ``hack/gpu-check.sh`` (see there). Every step prints one line; the first
failure ends the run with exit 1 and one line naming the step and the reason.

It runs the same commands a user runs (``dra inventory``, ``dra plugin run``) as child
processes; the kubelet is the project's stand-in (``dra.plugin.kubelet_standin``), which
speaks the real gRPC protocol over the real sockets. Sockets, checkpoint and CDI specs go to
a temporary directory, never to the kubelet's own directories.

Test seam (used by ``tests/test_plugin_gpu_check.py`` on a fake driver root):
``GPU_CHECK_DEV_ROOT`` is prefixed to device-node paths when checking that they exist.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

NODE = os.environ.get("NODE_NAME") or "gpu-check-node"
DRIVER = "gpu.nvidia.com"


class Failed(Exception):
    pass


def say(step: str, text: str) -> None:
    print(f"gpu-check: {step}: {text}", flush=True)


def run(argv: list[str], env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    if result.returncode != 0:
        last = (result.stderr.strip() or result.stdout.strip() or f"exit {result.returncode}").splitlines()[-1]
        raise Failed(f"{' '.join(argv[:4])}: {last}")
    return result


def main() -> int:
    from dra.gpu.nvml_lib import NvmlLibraryNotFound, find_library

    driver_root = os.environ.get("NVIDIA_DRIVER_ROOT", "/")
    root_mount = Path(os.environ.get("DRIVER_ROOT_MOUNT") or driver_root)
    out = Path(os.environ.get("GPU_CHECK_OUT") or tempfile.mkdtemp(prefix="gpu-check-"))
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        _, nvml = find_library(root_mount)
    except NvmlLibraryNotFound as err:
        raise Failed(f"no NVIDIA GPU here: {err}") from None
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = str(nvml.parent) + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    py = sys.executable

    record = out / "nvml-recording.json"
    run([py, "-m", "dra.cli", "inventory", "--record", str(record), "--node", NODE, "-o", "json"], env)
    inventory = json.loads(run([py, "-m", "dra.cli", "inventory", "--replay", str(record), "--node", NODE,
                                "-o", "json"], env).stdout)
    gpus = inventory.get("gpus") or []
    if not gpus:
        raise Failed("no NVIDIA GPU here: NVML reports 0 devices")
    say("inventory", f"{len(gpus)} GPU(s): " + ", ".join(f"{g['productName']} {g['uuid']}" for g in gpus)
        + f"; recorded to {record}")
    mig = [g for g in gpus if g.get("migEnabled")]

    from dra.testing.apiserver import FakeApiServer

    kubeconfig = os.environ.get("KUBECONFIG")
    api = None
    if kubeconfig:
        say("control plane", f"publishing to the cluster of {kubeconfig}")
    else:
        api = FakeApiServer(validate=True).start()
        api.put_object({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}})
        kubeconfig = str(out / "kubeconfig")
        Path(kubeconfig).write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "s",
            "clusters": [{"name": "s", "cluster": {"server": api.url}}], "users": [{"name": "u", "user": {}}],
            "contexts": [{"name": "s", "context": {"cluster": "s", "user": "u"}}]}))
        say("control plane", "no KUBECONFIG: publishing to the stand-in API server (dra.testing.apiserver), "
            "not a real control plane")
    try:
        check_mode("whole", gpus[0], driver_root, root_mount, kubeconfig, api, out, env)
        if mig:
            # Existing MIG devices are prepared as they are (static-mig); otherwise one is
            # created and destroyed again (dynamic-mig), so a configured GPU is not disturbed.
            mode = "static-mig" if mig[0].get("migDevices") else "dynamic-mig"
            check_mode(mode, mig[0], driver_root, root_mount, kubeconfig, api, out, env)
        else:
            say("mig", "no GPU with MIG enabled: MIG not checked")
    finally:
        if api is not None:
            api.stop()
    say("done", f"all checks passed in {time.monotonic() - started:.0f} s; files in {out}")
    return 0


def check_mode(mode, gpu, driver_root, root_mount, kubeconfig, api, out, env) -> None:
    from dra.plugin.kubelet_standin import KubeletStandIn, allocated_claim

    work = out / mode
    work.mkdir(exist_ok=True)
    sockets = Path(tempfile.mkdtemp(prefix="gpuchk-"))  # unix socket paths must stay short
    log = open(work / "plugin.log", "ab")
    plugin = subprocess.Popen(
        [sys.executable, "-m", "dra.cli", "plugin", "run", "--node-name", NODE, "--mode", mode,
         "--kubeconfig", kubeconfig, "--registrar-dir", str(sockets / "registry"), "--plugins-dir", str(sockets / "plugins"),
         "--cdi-root", str(work / "cdi"), "--http-port", "-1", "--driver-root", driver_root,
         "--driver-root-mount", str(root_mount), "--mps-root", str(work / "mps"), "--no-health"],
        env=env, stdout=subprocess.DEVNULL, stderr=log, cwd=REPO)
    kubelet = KubeletStandIn(sockets / "registry")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                kubelet.register(timeout=1)
                break
            except Exception:  # noqa: BLE001 - not up yet
                if plugin.poll() is not None or time.monotonic() > deadline:
                    tail = (work / "plugin.log").read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
                    raise Failed(f"{mode}: plugin did not register: {tail[0][:300]}") from None
        device = pick_device(mode, gpu, api, kubeconfig)
        say(mode, f"plugin registered; preparing {device}")
        claim_uid = str(uuid.uuid4())
        request, cls = ("gpu", "gpu.nvidia.com") if mode == "whole" else ("mig", "mig.nvidia.com")
        claim = allocated_claim(f"gpu-check-{mode}", claim_uid, [(request, device)], pool=NODE, device_class=cls)
        put_claim(api, kubeconfig, claim)
        ref = ("default", claim["metadata"]["name"], claim_uid)
        answer = kubelet.prepare([ref])[claim_uid]
        if answer.error:
            raise Failed(f"{mode}: prepare {device}: {answer.error}")
        spec_path = work / "cdi" / f"k8s.{DRIVER}-claim_{claim_uid}.json"
        spec = json.loads(spec_path.read_text())
        checked = check_paths(spec)
        say(mode, f"prepared; CDI spec {spec_path.name}: {checked} paths exist on the host")
        say(mode, "nvidia-smi with the CDI edits: " + run_nvidia_smi(spec, env))
        error = kubelet.unprepare([ref])[claim_uid]
        if error or spec_path.exists():
            raise Failed(f"{mode}: unprepare: {error or 'CDI spec still there'}")
        say(mode, "unprepared; CDI spec removed")
    finally:
        kubelet.close()
        if plugin.poll() is None:
            plugin.terminate()
            plugin.wait(30)


def pick_device(mode, gpu, api, kubeconfig) -> str:
    """A device of ``gpu`` in the slices the plugin publishes for ``mode`` (waits for them:
    the previous mode's slices stay published until the new plugin replaces them)."""
    minor = f"gpu-{gpu['minor']}"
    names: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        names = [d["name"] for s in list_slices(api, kubeconfig) if s["spec"].get("nodeName") == NODE
                 for d in s["spec"].get("devices") or ()]
        if mode == "whole":
            if minor in names:
                return minor
        else:
            migs = sorted((n for n in names if n.startswith(minor + "-mig-")), key=lambda n: (len(n), n))
            if migs:
                return migs[0]
        time.sleep(0.5)
    raise Failed(f"{mode}: no device of {minor} published for node {NODE} within 60 s "
                 f"(got {', '.join(sorted(names)[:6]) or 'none'})")


def list_slices(api, kubeconfig) -> list[dict]:
    if api is not None:
        return api.objects("ResourceSlice")
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=kubeconfig)
    raw = client.CustomObjectsApi(api_client).list_cluster_custom_object(
        "resource.k8s.io", "v1", "resourceslices", _preload_content=False)
    return json.loads(raw.data)["items"]


def put_claim(api, kubeconfig, claim) -> None:
    if api is not None:
        api.put_object(claim)
        return
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=kubeconfig)
    custom = client.CustomObjectsApi(api_client)
    status = claim.pop("status")
    created = custom.create_namespaced_custom_object("resource.k8s.io", "v1", "default", "resourceclaims", claim)
    created["status"] = status
    custom.replace_namespaced_custom_object_status("resource.k8s.io", "v1", "default", "resourceclaims",
                                                   claim["metadata"]["name"], created)
    claim["metadata"]["uid"] = created["metadata"]["uid"]


def _edits(spec: dict) -> list[dict]:
    return [spec.get("containerEdits") or {}] + [d.get("containerEdits") or {} for d in spec["devices"]]


def check_paths(spec: dict) -> int:
    dev_root = os.environ.get("GPU_CHECK_DEV_ROOT", "")
    checked = 0
    for edits in _edits(spec):
        for node in edits.get("deviceNodes") or ():
            path = node.get("hostPath") or node["path"]
            if not os.path.exists(dev_root + path):
                raise Failed(f"CDI device node {path} does not exist on the host")
            checked += 1
        for mount in edits.get("mounts") or ():
            if not os.path.exists(mount["hostPath"]):
                raise Failed(f"CDI mount source {mount['hostPath']} does not exist on the host")
            checked += 1
        for hook in edits.get("hooks") or ():
            if not os.access(hook["path"], os.X_OK):
                raise Failed(f"CDI hook {hook['path']} is not an executable on the host")
            checked += 1
    return checked


def run_nvidia_smi(spec: dict, env: dict) -> str:
    """The spec's nvidia-smi with the spec's env and its libraries' folders on LD_LIBRARY_PATH
    (what the ldcache hook gives a container), without entering a container."""
    mounts = [m for e in _edits(spec) for m in e.get("mounts") or ()]
    smi = next((m["hostPath"] for m in mounts if m["containerPath"].endswith("/nvidia-smi")), None)
    if smi is None:
        raise Failed("the CDI spec mounts no nvidia-smi")
    lib_dirs = sorted({os.path.dirname(m["hostPath"]) for m in mounts if ".so" in os.path.basename(m["hostPath"])})
    child = {k: v for k, v in env.items() if k not in ("LD_LIBRARY_PATH",)}
    for edits in _edits(spec):
        for item in edits.get("env") or ():
            key, _, value = item.partition("=")
            child[key] = value
    child["LD_LIBRARY_PATH"] = ":".join(lib_dirs)
    result = subprocess.run([smi, "-L"], env=child, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise Failed(f"nvidia-smi -L failed ({result.returncode}): {(result.stderr or result.stdout).strip()[:300]}")
    lines = result.stdout.strip().splitlines()
    return f"{len(lines)} line(s), first: {lines[0] if lines else ''}"


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failed as err:
        print(f"gpu-check: FAILED: {err}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("gpu-check: FAILED: interrupted", file=sys.stderr)
        sys.exit(1)
