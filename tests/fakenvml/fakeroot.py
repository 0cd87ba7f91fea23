"""Build the fake libnvidia-ml.so.1 and a driver root laid out like a real one.

``build_nvml(dir)`` compiles ``fake_nvml.c`` with gcc (the test skips, saying so, without
gcc). ``make_driver_root(root, lib)`` lays out what the NVIDIA driver installs, with the
fake NVML as ``libnvidia-ml.so.<version>`` and tiny real ELF libraries (with their sonames)
for the rest, so that ``ldconfig -r <root>`` writes a real ``<root>/etc/ld.so.cache`` with
the soname links (this needs root, for ldconfig's chroot; without it the cache is absent
and discovery falls back to the library folders, as on a root without a cache):

    usr/lib/<multiarch>/libnvidia-ml.so.<v> (fake NVML), libcuda.so.<v>, libnvidia-ptxjitcompiler.so.<v>,
        libnvidia-nvvm.so.<v>, libcudadebugger.so.<v>, libnvidia-cfg.so.<v>, libnvidia-opencl.so.<v>
    usr/lib/i386-linux-gnu/libcuda.so.<v>        (a 32-bit-path decoy; never mounted)
    usr/bin/nvidia-smi, nvidia-debugdump, nvidia-persistenced, nvidia-cuda-mps-control,
        nvidia-cuda-mps-server                    (shell scripts; see below)
    usr/bin/nvidia-cdi-hook                       (only with hook=True)
    lib/firmware/nvidia/<v>/gsp_ga10x.bin, gsp_tu10x.bin
    run/nvidia-persistenced/socket                (a listening unix socket)

The fake ``nvidia-smi`` prints a GPU list when ``libnvidia-ml.so.1`` is reachable through
``LD_LIBRARY_PATH`` (as the real one needs) and fails otherwise; the fake
``nvidia-cuda-mps-control -d`` starts a daemon process (``sleep``, in its own session) that
owns a control pipe and a pid file, and as a client appends commands to the log and ends
the daemon on ``quit``.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import stat
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
VERSION = "550.54.15"
MULTIARCH = {"x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu"}.get(platform.machine(), "x86_64-linux-gnu")
LIBDIR = f"/usr/lib/{MULTIARCH}"
GPU0 = "GPU-11111111-2222-3333-4444-555555555555"
GPU1 = "GPU-66666666-7777-8888-9999-000000000000"
OTHER_LIBS = ("libcuda", "libnvidia-ptxjitcompiler", "libnvidia-nvvm", "libcudadebugger",
              "libnvidia-cfg", "libnvidia-opencl")

NVIDIA_SMI = """#!/bin/sh
# fake nvidia-smi: needs libnvidia-ml.so.1 on LD_LIBRARY_PATH, as the real binary does
for d in $(echo "$LD_LIBRARY_PATH" | tr ':' ' '); do
  if [ -e "$d/libnvidia-ml.so.1" ]; then
    echo "$@" >> "${FAKE_NVML_DIR:-/tmp}/nvidia-smi.log"
    echo "GPU 0: NVIDIA H100 80GB HBM3 (UUID: %s)"
    echo "GPU 1: NVIDIA L4 (UUID: %s)"
    exit 0
  fi
done
echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver" >&2
exit 9
""" % (GPU0, GPU1)

MPS_CONTROL = """#!/bin/sh
# fake nvidia-cuda-mps-control: "-d" starts a daemon, otherwise a client reading commands
pipe="${CUDA_MPS_PIPE_DIRECTORY:-/tmp/nvidia-mps}"
logd="${CUDA_MPS_LOG_DIRECTORY:-/var/log/nvidia-mps}"
if [ "$1" = "-d" ]; then
  mkdir -p "$pipe" "$logd"
  setsid sh -c 'echo $$ > "$1/nvidia-cuda-mps-control.pid"; : > "$1/control"; exec sh -c "while :; do sleep 1; done" nvidia-cuda-mps-control' sh "$pipe" </dev/null >/dev/null 2>&1 &
  i=0; while [ ! -e "$pipe/control" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
  echo "started gpus=$CUDA_VISIBLE_DEVICES" >> "$logd/control.log"
  exit 0
fi
[ -e "$pipe/control" ] || { echo "Cannot find MPS control daemon process" >&2; exit 1; }
while read -r cmd; do
  echo "$cmd" >> "$logd/control.log"
  if [ "$cmd" = "quit" ]; then kill "$(cat "$pipe/nvidia-cuda-mps-control.pid")"; rm -f "$pipe/control"; fi
done
"""


def need_gcc() -> str:
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("gcc is not installed: the fake libnvidia-ml.so cannot be built")
    return gcc


def build_nvml(out_dir: Path) -> Path:
    """Compile fake_nvml.c into ``out_dir/libnvidia-ml.so.<VERSION>`` (soname libnvidia-ml.so.1)."""
    gcc = need_gcc()
    out_dir.mkdir(parents=True, exist_ok=True)
    lib = out_dir / f"libnvidia-ml.so.{VERSION}"
    subprocess.run([gcc, "-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-Wl,-soname,libnvidia-ml.so.1",
                    "-o", str(lib), str(HERE / "fake_nvml.c")], check=True)
    return lib


def _tiny_lib(gcc: str, path: Path, soname: str) -> None:
    subprocess.run([gcc, "-shared", "-fPIC", f"-Wl,-soname,{soname}", "-o", str(path), "-x", "c", "/dev/null"],
                   check=True, capture_output=True)


def _script(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def make_driver_root(root: Path, nvml: Path, *, hook: bool = True) -> dict:
    """Lay out a driver root; returns what was made (for assertions)."""
    gcc = need_gcc()
    libdir = root / LIBDIR.lstrip("/")
    libdir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(nvml, libdir / f"libnvidia-ml.so.{VERSION}")
    for name in OTHER_LIBS:
        _tiny_lib(gcc, libdir / f"{name}.so.{VERSION}", f"{name}.so.1")
    decoy = root / "usr/lib/i386-linux-gnu"
    decoy.mkdir(parents=True, exist_ok=True)
    (decoy / f"libcuda.so.{VERSION}").write_bytes(b"not a 64-bit library")
    bindir = root / "usr/bin"
    bindir.mkdir(parents=True, exist_ok=True)
    _script(bindir / "nvidia-smi", NVIDIA_SMI)
    _script(bindir / "nvidia-cuda-mps-control", MPS_CONTROL)
    for name in ("nvidia-debugdump", "nvidia-persistenced", "nvidia-cuda-mps-server"):
        _script(bindir / name, "#!/bin/sh\nexit 0\n")
    if hook:
        _script(bindir / "nvidia-cdi-hook", "#!/bin/sh\nexit 0\n")
    firmware = root / "lib/firmware/nvidia" / VERSION
    firmware.mkdir(parents=True, exist_ok=True)
    for name in ("gsp_ga10x.bin", "gsp_tu10x.bin"):
        (firmware / name).write_bytes(b"\0" * 16)
    (root / "etc").mkdir(exist_ok=True)
    (root / "etc/ld.so.conf").write_text(f"{LIBDIR}\n/usr/lib/i386-linux-gnu\n")
    cache = False
    if os.geteuid() == 0 and shutil.which("ldconfig"):
        done = subprocess.run(["ldconfig", "-r", str(root), "-C", "/etc/ld.so.cache"], capture_output=True)
        cache = done.returncode == 0 and (root / "etc/ld.so.cache").exists()
    if not cache:  # no ldconfig chroot: make the soname links ldconfig would have made
        for name in ("libnvidia-ml",) + OTHER_LIBS:
            link = libdir / f"{name}.so.1"
            if not link.exists():
                link.symlink_to(f"{name}.so.{VERSION}")
    sock_dir = root / "run/nvidia-persistenced"
    sock_dir.mkdir(parents=True, exist_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock_dir / "socket"))
    listener.listen(1)
    assert stat.S_ISSOCK((sock_dir / "socket").stat().st_mode)
    return {"ldcache": cache, "socket": listener, "libdir": LIBDIR}
