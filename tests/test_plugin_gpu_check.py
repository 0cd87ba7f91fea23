"""``make gpu-check`` (hack/gpu-check.sh) as far as a machine without a GPU allows.

On a fake driver root (``tests/fakenvml``: the C fake libnvidia-ml.so.1, the driver's file
layout, fake nvidia-smi) the script runs every step it runs on a GPU machine: inventory
recording through NVML, publishing (to the stand-in API server, which it says), preparing a
whole GPU and, the fake H100 having MIG on, a dynamic MIG device through the kubelet
stand-in, checking every CDI path, running the spec's nvidia-smi with the spec's libraries,
unpreparing. Device nodes are plain files under ``GPU_CHECK_DEV_ROOT`` (no /dev/nvidia* here).
What only a real GPU shows: that the real driver and nvidia-smi accept all of it.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from fakenvml.fakeroot import build_nvml, make_driver_root

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "hack" / "gpu-check.sh"


def _env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "NVIDIA_DRIVER_ROOT", "DRIVER_ROOT_MOUNT")}
    env.update(PYTHON=str(ROOT / ".venv/bin/python") if (ROOT / ".venv/bin/python").exists() else "python3",
               GPU_CHECK_OUT=str(tmp_path / "out"), **extra)
    return env


def test_without_a_gpu_one_line_and_exit_1(tmp_path):
    (tmp_path / "empty").mkdir()
    result = subprocess.run([str(SCRIPT)], env=_env(tmp_path, NVIDIA_DRIVER_ROOT=str(tmp_path / "empty")),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gpu-check: FAILED: no NVIDIA GPU here: ")
    assert "libnvidia-ml.so.1 not found" in lines[0]


def test_every_step_on_a_fake_gpu_node(tmp_path):
    root = tmp_path / "driver-root"
    made = make_driver_root(root, build_nvml(tmp_path / "lib"))
    devroot = tmp_path / "devroot"
    (devroot / "dev").mkdir(parents=True)
    for minor, name in enumerate(("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm", "nvidia-uvm-tools")):
        try:  # a character device like the real one where permitted, else a plain file
            os.mknod(devroot / "dev" / name, 0o666 | stat.S_IFCHR, os.makedev(195, minor))
        except OSError:
            (devroot / "dev" / name).write_text("")
    (tmp_path / "nvml").mkdir()
    try:
        result = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=570, env=_env(
            tmp_path, NVIDIA_DRIVER_ROOT=str(root), GPU_CHECK_DEV_ROOT=str(devroot), FAKE_NVML_DIR=str(tmp_path / "nvml")))
    finally:
        made["socket"].close()
    out = result.stdout
    assert result.returncode == 0, out + result.stderr[-3000:]
    assert "gpu-check: inventory: 2 GPU(s): NVIDIA H100 80GB HBM3" in out
    assert "publishing to the stand-in API server" in out
    assert "gpu-check: whole: prepared; CDI spec" in out and "gpu-check: dynamic-mig: prepared; CDI spec" in out
    assert "nvidia-smi with the CDI edits: 2 line(s), first: GPU 0: NVIDIA H100 80GB HBM3" in out
    assert out.count("unprepared; CDI spec removed") == 2 and "gpu-check: done: all checks passed" in out
    assert (tmp_path / "out" / "nvml-recording.json").exists()
    assert (tmp_path / "nvml" / "mig.state").read_text() == ""  # the MIG instance was destroyed again
