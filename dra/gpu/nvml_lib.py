"""Find and load ``libnvidia-ml.so.1`` from the host's driver root.

In a container the driver is not where the image's loader looks: the DaemonSet mounts the
host's driver root (``/`` for a driver installed on the host, ``/run/nvidia/driver`` for the
GPU operator's driver container, as NVIDIA's ``nvidiaDriverRoot``) at ``--driver-root-mount``
(``/driver-root``). Like the NVIDIA container toolkit we look for the library

1. in the root's loader cache (``<root>/etc/ld.so.cache``, see ``nvml_ldcache``), then
2. in the usual library directories of the root (``LIB_DIRS``),

and hand the file to nvidia-ml-py before ``nvmlInit`` (pynvml only loads
``libnvidia-ml.so.1`` by soname when nothing was loaded yet). When nothing is found the error
names the root and every place looked at, in one line.
"""

from __future__ import annotations

import os
from pathlib import Path

from dra.errors import UserError
from dra.gpu import nvml_ldcache

NVML_SONAME = "libnvidia-ml.so.1"
LIB_DIRS = (
    "/usr/lib64",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/lib64",
    "/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/usr/lib",
    "/lib",
)


class NvmlLibraryNotFound(UserError):
    """No libnvidia-ml.so.1 under the driver root."""


def inside(root: Path, path: str) -> Path:
    """``path`` (absolute inside ``root``) as seen from here; symlinks are resolved *within*
    ``root`` (an absolute link target means the root's ``/``, not ours)."""
    root = Path(root)
    current = Path("/")
    parts = list(Path(path).parts[1:]) if path.startswith("/") else list(Path(path).parts)
    hops = 0
    while parts:
        part = parts.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            current = current.parent
            continue
        candidate = current / part
        real = root / candidate.relative_to("/")
        if real.is_symlink():
            hops += 1
            if hops > 40:
                raise OSError(f"too many symlinks under {root} at {candidate}")
            target = os.readlink(real)
            if target.startswith("/"):
                current = Path("/")
                parts = list(Path(target).parts[1:]) + parts
            else:
                parts = list(Path(target).parts) + parts
            continue
        current = candidate
    return root / current.relative_to("/")


def find_library(root_mount: Path, soname: str = NVML_SONAME) -> tuple[str, Path]:
    """``(path inside the root, path here)`` of ``soname`` under ``root_mount``."""
    root_mount = Path(root_mount)
    looked = []
    cache = nvml_ldcache.read(root_mount)
    looked.append(f"{root_mount}/etc/ld.so.cache ({'no entry' if cache else 'missing or unreadable'})")
    for name, path in cache:
        if name == soname:
            here = inside(root_mount, path)
            if here.is_file():
                return path, here
    for directory in LIB_DIRS:
        path = f"{directory}/{soname}"
        here = inside(root_mount, path)
        if here.is_file():
            return path, here
    looked.append(f"{root_mount}{{{','.join(LIB_DIRS)}}}/{soname}")
    raise NvmlLibraryNotFound(
        f"NVML library {soname} not found under the driver root {root_mount}: looked in "
        + "; ".join(looked)
        + " (set --driver-root to the host's driver root, / or /run/nvidia/driver, and mount it"
        " at --driver-root-mount)"
    )


def load(root_mount: Path) -> Path:
    """Load NVML from the driver root into nvidia-ml-py; return the file loaded."""
    import ctypes

    import pynvml

    _, here = find_library(root_mount)
    if pynvml.nvmlLib is None:
        try:
            pynvml.nvmlLib = ctypes.CDLL(str(here))
        except OSError as err:
            raise NvmlLibraryNotFound(f"cannot load NVML from {here}: {err}") from None
    return here
