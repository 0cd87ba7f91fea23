"""The host driver's files a CUDA container needs, discovered from the driver root.

A container given only ``/dev/nvidia*`` cannot run CUDA: ``libcuda.so.1`` and friends come
from the host's driver, whose version must match the kernel module. Like the NVIDIA
container toolkit (``nvidia-ctk cdi generate``), we discover at plugin start, from the
driver root (``--driver-root``, seen here at ``--driver-root-mount``):

* **libraries**: every 64-bit entry of the root's ``ld.so.cache`` whose file is
  ``*.so.<driver version>`` (libcuda, libnvidia-ml, libnvidia-ptxjitcompiler, libnvidia-nvvm,
  libcudadebugger, libnvidia-opencl, ...), the version taken from ``libnvidia-ml.so.1``'s
  target; when the root has no cache, the same names found in the usual library folders;
* **binaries**: ``nvidia-smi``, ``nvidia-debugdump``, ``nvidia-persistenced``,
  ``nvidia-cuda-mps-control``, ``nvidia-cuda-mps-server``;
* **firmware**: ``/lib/firmware/nvidia/<version>/gsp*.bin``;
* **IPC sockets** where present: nvidia-persistenced and fabric manager;
* **hooks**: ``nvidia-cdi-hook create-symlinks`` (``libcuda.so`` -> ``libcuda.so.1``) and
  ``update-ldcache`` for the library folders, when the host has ``nvidia-cdi-hook`` (or only
  ``nvidia-ctk``, as ``nvidia-ctk hook ...``). Without either, the spec says so in the
  annotation ``dra.gpu.nvidia.com/ldcache-hook`` and, so that the loader still finds the
  libraries by soname, each library is also mounted at its soname path.

Paths in the spec are *host* paths (driver root + path inside the root) for ``hostPath``, and
the path inside the root for ``containerPath``, as the toolkit writes them. The result is
applied to every claim's spec (``containerEdits`` at spec level).
"""

from __future__ import annotations

import logging
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from dra.gpu import nvml_ldcache
from dra.gpu.nvml_lib import LIB_DIRS, NVML_SONAME, NvmlLibraryNotFound, find_library, inside
from dra.plugin.cdi import ContainerEdits

log = logging.getLogger(__name__)

BINARIES = ("nvidia-smi", "nvidia-debugdump", "nvidia-persistenced",
            "nvidia-cuda-mps-control", "nvidia-cuda-mps-server")
BIN_DIRS = ("/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin")
FIRMWARE_DIRS = ("/lib/firmware/nvidia", "/usr/lib/firmware/nvidia")
IPC_SOCKETS = ("/run/nvidia-persistenced/socket", "/var/run/nvidia-persistenced/socket",
               "/run/nvidia-fabricmanager/socket", "/var/run/nvidia-fabricmanager/socket")
HOOK_PLACES = ("/usr/bin", "/usr/local/bin", "/usr/local/nvidia/toolkit")
# Library name prefixes of the driver (used only when the root has no usable ld.so.cache).
DRIVER_LIB_PREFIXES = ("libcuda", "libnvidia-", "libnvcuvid", "libnvoptix", "libcudadebugger")
MOUNT_OPTIONS = ["ro", "nosuid", "nodev", "rbind", "rprivate"]
ANNOTATION_HOOK = "dra.gpu.nvidia.com/ldcache-hook"
_VERSION = re.compile(r"\.so\.(\d+\.\d+(?:\.\d+)?)$")


@dataclass
class DriverFiles:
    """What was found; ``container_edits()`` turns it into CDI edits."""

    driver_root: str  # host path of the root (what the spec must name)
    version: str
    libraries: list[tuple[str, str]] = field(default_factory=list)  # (soname, path inside root)
    binaries: list[str] = field(default_factory=list)
    firmware: list[str] = field(default_factory=list)
    ipc_sockets: list[str] = field(default_factory=list)
    hook: tuple[str, str] | None = None  # (kind nvidia-cdi-hook|nvidia-ctk, path inside root)
    hook_absent: str | None = None

    def host(self, path: str) -> str:
        return path if self.driver_root in ("", "/") else self.driver_root.rstrip("/") + path

    def library_dirs(self) -> list[str]:
        return sorted({str(Path(p).parent) for _, p in self.libraries})

    def annotations(self) -> dict[str, str]:
        return {ANNOTATION_HOOK: self.hook_absent} if self.hook_absent else {}

    def container_edits(self) -> ContainerEdits:
        edits = ContainerEdits()
        mounted: set[str] = set()

        def mount(path: str, container: str | None = None, options=MOUNT_OPTIONS) -> None:
            target = container or path
            if target in mounted:
                return
            mounted.add(target)
            edits.mounts.append({"hostPath": self.host(path), "containerPath": target, "options": list(options)})

        for soname, path in self.libraries:
            mount(path)
            if self.hook is None and soname != Path(path).name:
                mount(path, f"{Path(path).parent}/{soname}")
        for path in self.binaries:
            mount(path, f"/usr/bin/{Path(path).name}")
        for path in self.firmware:
            mount(path)
        for path in self.ipc_sockets:
            mount(path, None, MOUNT_OPTIONS + ["noexec"])
        if self.hook is not None:
            kind, path = self.hook
            prefix = ["nvidia-cdi-hook"] if kind == "nvidia-cdi-hook" else ["nvidia-ctk", "hook"]
            cuda = next((p for s, p in self.libraries if s == "libcuda.so.1"), None)
            if cuda is not None:
                directory = str(Path(cuda).parent)
                edits.hooks.append({"hookName": "createContainer", "path": self.host(path),
                                    "args": prefix + ["create-symlinks", "--link",
                                                      f"libcuda.so.1::{directory}/libcuda.so"]})
            args = prefix + ["update-ldcache"]
            for directory in self.library_dirs():
                args += ["--folder", directory]
            edits.hooks.append({"hookName": "createContainer", "path": self.host(path), "args": args})
        return edits


def discover(driver_root: str, root_mount: Path, version: str | None = None) -> DriverFiles:
    """Discover the driver's files under ``root_mount`` (the host's ``driver_root``)."""
    root_mount = Path(root_mount)
    _, nvml_here = find_library(root_mount)  # raises NvmlLibraryNotFound, one line
    found = _VERSION.search(nvml_here.name)
    version = version or (found.group(1) if found else None)
    if not version:
        raise NvmlLibraryNotFound(
            f"{nvml_here}: cannot tell the driver version from the file name (expected libnvidia-ml.so.<version>)"
        )
    files = DriverFiles(driver_root=driver_root or "/", version=version)
    files.libraries = _libraries(root_mount, version)
    files.binaries = [p for p in (_first(root_mount, BIN_DIRS, name) for name in BINARIES) if p]
    for directory in FIRMWARE_DIRS:
        folder = inside(root_mount, f"{directory}/{version}")
        if folder.is_dir():
            files.firmware.extend(f"{directory}/{version}/{p.name}" for p in sorted(folder.glob("gsp*.bin")))
            break
    for path in IPC_SOCKETS:
        here = root_mount / path.lstrip("/")
        try:
            if stat.S_ISSOCK(here.stat().st_mode) and not any(
                Path(s).name == Path(path).name and Path(s).parent.name == Path(path).parent.name
                for s in files.ipc_sockets
            ):
                files.ipc_sockets.append(path)
        except OSError:
            pass
    for kind in ("nvidia-cdi-hook", "nvidia-ctk"):
        path = _first(root_mount, HOOK_PLACES, kind, resolve=False)
        if path:
            files.hook = (kind, path)
            break
    if files.hook is None:
        files.hook_absent = (
            f"absent: neither nvidia-cdi-hook nor nvidia-ctk under {files.driver_root} "
            f"({', '.join(HOOK_PLACES)}); libraries are also mounted at their soname paths "
            "instead of updating the container's ld.so.cache"
        )
        log.warning("no nvidia-cdi-hook on the host: CDI specs carry no ldcache update hook",
                    extra={"driver_root": files.driver_root})
    return files


def _first(root: Path, directories, name: str, *, resolve: bool = True) -> str | None:
    for directory in directories:
        path = f"{directory}/{name}"
        here = inside(root, path)
        if here.is_file():
            return "/" + str(here.relative_to(root)) if resolve else path
    return None


def _libraries(root: Path, version: str) -> list[tuple[str, str]]:
    """(soname, resolved path inside root) of the driver's libraries, one per file."""
    suffix = f".so.{version}"
    candidates: list[tuple[str, str]] = list(nvml_ldcache.read(root))
    if not candidates:
        for directory in LIB_DIRS:
            folder = inside(root, directory)
            if folder.is_dir():
                for p in sorted(folder.iterdir()):
                    if p.name.startswith(DRIVER_LIB_PREFIXES) and ".so." in p.name:
                        candidates.append((p.name, f"{directory}/{p.name}"))
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for soname, path in candidates:
        try:
            here = inside(root, path)
        except OSError:
            continue
        if not here.is_file() or not here.name.endswith(suffix):
            continue
        real = "/" + str(here.relative_to(root))
        if real in seen:
            continue
        seen.add(real)
        out.append((soname, real))
    if not any(s == NVML_SONAME or Path(p).name.startswith("libnvidia-ml.so") for s, p in out):
        log.warning("driver libraries look incomplete", extra={"version": version, "found": len(out)})
    return sorted(out, key=lambda sp: sp[1])
