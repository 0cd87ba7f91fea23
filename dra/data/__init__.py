"""Files shipped inside the ``dra`` package, found the same way in a checkout and a wheel.

``deviceclasses.yaml`` is the project's DeviceClasses (``gpu.nvidia.com``,
``mig.nvidia.com``, ``shared.gpu.nvidia.com``). The source of truth is the repository's
``manifests/deviceclasses.yaml`` (what users ``kubectl apply``); this copy and the Helm
chart's ``files/deviceclasses.yaml`` are kept byte-identical to it by ``make sync-manifests``
and checked by ``tests/test_manifests_deviceclasses.py``.
"""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path


def deviceclasses_text() -> str:
    """The DeviceClasses manifest (multi-document YAML) as shipped with this install."""
    return files(__name__).joinpath("deviceclasses.yaml").read_text(encoding="utf-8")


def deviceclasses_path() -> Path:
    """A real file path of the shipped DeviceClasses manifest (wheels are unpacked, so this is stable)."""
    with as_file(files(__name__).joinpath("deviceclasses.yaml")) as path:
        return Path(path)
