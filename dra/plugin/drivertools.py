"""Run the host driver's tools (nvidia-smi, nvidia-cuda-mps-control) from inside the plugin.

The plugin image carries no NVIDIA binaries: they come from the driver root mounted at
``--driver-root-mount``, and they link against the driver's libraries, which the image's
loader does not know. ``tool(name)`` answers the binary's path under the mount (or the bare
name, found on ``PATH``, when the root has none) and ``env()`` an environment whose
``LD_LIBRARY_PATH`` names the folder of the driver's ``libnvidia-ml.so.1``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from dra.plugin.backend import BackendError

BIN_DIRS = ("/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin")


class DriverTools:
    def __init__(self, root_mount: Path = Path("/")) -> None:
        self.root = Path(root_mount)

    def tool(self, name: str) -> str:
        from dra.gpu.nvml_lib import inside

        if self.root == Path("/"):
            return name
        for directory in BIN_DIRS:
            here = inside(self.root, f"{directory}/{name}")
            if here.is_file():
                return str(here)
        return name

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        if self.root != Path("/"):
            from dra.gpu.nvml_lib import NvmlLibraryNotFound, find_library

            try:
                _, lib = find_library(self.root)
            except NvmlLibraryNotFound:
                lib = None
            if lib is not None:
                old = env.get("LD_LIBRARY_PATH")
                env["LD_LIBRARY_PATH"] = str(lib.parent) + (f":{old}" if old else "")
        env.update(extra)
        return env

    def run(self, argv: list[str], *, env: dict | None = None, stdin: str | None = None, timeout: float = 30) -> str:
        argv = [self.tool(argv[0]), *argv[1:]]
        try:
            result = subprocess.run(argv, env=env or self.env(), input=stdin, capture_output=True,
                                    text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise BackendError(f"{argv[0]}: {err}") from None
        if result.returncode != 0:
            raise BackendError(f"{' '.join(argv)}: {result.stderr.strip() or result.stdout.strip()}")
        return result.stdout
