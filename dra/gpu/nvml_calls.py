"""The NVML calls discovery makes, each answering plain data; plus record and replay.

:class:`PynvmlCalls` is the only code that touches nvidia-ml-py (``pynvml``). Each method
is one NVML query on GPU ``i`` (by NVML index) and turns the ctypes answer into plain
Python data (ints, strings, lists, dicts), so that the answers can be written to JSON.
A query the GPU does not support answers ``None`` instead of raising.

:class:`RecordingCalls` wraps any calls object and keeps every answer (or NVML error code);
:class:`RecordedCalls` answers from such a recording. Together they let the discovery code
be unit-tested against the answers a real machine gave (``dra inventory --record FILE`` on
the machine, then ``--replay FILE`` anywhere), with the same code path as on the machine.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any, Callable

from dra.errors import UserError

RECORDING_FORMAT = "dra-nvml-recording/v1"


class RecordingError(UserError):
    """A recording file is unreadable or lacks an answer discovery needs."""


def _pynvml():  # imported lazily: the module loads libnvidia-ml only on nvmlInit
    import pynvml

    return pynvml


class PynvmlCalls:
    """Real NVML queries through pynvml. ``sysfs`` is where PCI topology is read from."""

    def __init__(self, sysfs: str | os.PathLike[str] = "/sys") -> None:
        self._nv = _pynvml()
        self._sysfs = Path(sysfs)
        self._handles: dict[int, Any] = {}

    # -- helpers ---------------------------------------------------------------------
    def _h(self, i: int) -> Any:
        if i not in self._handles:
            self._handles[i] = self._nv.nvmlDeviceGetHandleByIndex(i)
        return self._handles[i]

    def _optional(self, fn: Callable[[], Any]) -> Any:
        """Run one query; "not supported"-like answers become None."""
        nv = self._nv
        unsupported = {
            nv.NVML_ERROR_NOT_SUPPORTED,
            nv.NVML_ERROR_FUNCTION_NOT_FOUND,
            nv.NVML_ERROR_INVALID_ARGUMENT,
            nv.NVML_ERROR_NOT_FOUND,
        }
        try:
            return fn()
        except nv.NVMLError as err:
            if getattr(err, "value", None) in unsupported:
                return None
            raise

    @staticmethod
    def _text(value: Any) -> str:
        return value.decode() if isinstance(value, bytes) else str(value)

    # -- system ----------------------------------------------------------------------
    def init(self) -> None:
        self._nv.nvmlInit()

    def shutdown(self) -> None:
        self._nv.nvmlShutdown()

    def system_driver_version(self) -> str:
        return self._text(self._nv.nvmlSystemGetDriverVersion())

    def system_cuda_driver_version(self) -> int:
        return int(self._nv.nvmlSystemGetCudaDriverVersion())

    def device_count(self) -> int:
        return int(self._nv.nvmlDeviceGetCount())

    # -- one GPU ---------------------------------------------------------------------
    def uuid(self, i: int) -> str:
        return self._text(self._nv.nvmlDeviceGetUUID(self._h(i)))

    def minor(self, i: int) -> int:
        return int(self._nv.nvmlDeviceGetMinorNumber(self._h(i)))

    def name(self, i: int) -> str:
        return self._text(self._nv.nvmlDeviceGetName(self._h(i)))

    def brand(self, i: int) -> int | None:
        return self._optional(lambda: int(self._nv.nvmlDeviceGetBrand(self._h(i))))

    def architecture(self, i: int) -> int | None:
        return self._optional(lambda: int(self._nv.nvmlDeviceGetArchitecture(self._h(i))))

    def compute_capability(self, i: int) -> list[int]:
        major, minor = self._nv.nvmlDeviceGetCudaComputeCapability(self._h(i))
        return [int(major), int(minor)]

    def memory_total(self, i: int) -> int:
        return int(self._nv.nvmlDeviceGetMemoryInfo(self._h(i)).total)

    def pci_bus_id(self, i: int) -> str:
        return self._text(self._nv.nvmlDeviceGetPciInfo(self._h(i)).busId)

    def multiprocessors(self, i: int) -> int | None:
        attrs = self._optional(lambda: self._nv.nvmlDeviceGetAttributes(self._h(i)))
        return int(attrs.multiprocessorCount) if attrs is not None else None

    def numa_node(self, i: int) -> int | None:
        fn = getattr(self._nv, "nvmlDeviceGetNumaNodeId", None)
        if fn is None:
            return None
        return self._optional(lambda: int(fn(self._h(i))))

    def mig_mode(self, i: int) -> list[int] | None:
        mode = self._optional(lambda: self._nv.nvmlDeviceGetMigMode(self._h(i)))
        return [int(mode[0]), int(mode[1])] if mode is not None else None

    def gi_profile_info(self, i: int, profile_index: int) -> dict[str, Any] | None:
        info = self._optional(
            lambda: self._nv.nvmlDeviceGetGpuInstanceProfileInfo(self._h(i), profile_index)
        )
        if info is None:
            return None
        out = {
            key: int(getattr(info, key))
            for key in ("id", "sliceCount", "instanceCount", "multiprocessorCount",
                        "copyEngineCount", "decoderCount", "encoderCount", "jpegCount",
                        "ofaCount", "memorySizeMB")
        }
        out["name"] = self._text(getattr(info, "name", b""))
        return out

    def gi_possible_placements(self, i: int, profile_id: int) -> list[list[int]] | None:
        nv = self._nv
        count = nv.c_uint(0)
        # First ask for the count, then fetch; both through the same NVML entry point.
        placements = (nv.c_nvmlGpuInstancePlacement_t * 16)()
        count.value = 16
        done = self._optional(
            lambda: nv.nvmlDeviceGetGpuInstancePossiblePlacements(
                self._h(i), profile_id, placements, nv.byref(count)
            )
        )
        if done is None:
            return None
        return [[int(placements[k].start), int(placements[k].size)] for k in range(count.value)]

    def max_mig_device_count(self, i: int) -> int:
        return int(self._optional(lambda: self._nv.nvmlDeviceGetMaxMigDeviceCount(self._h(i))) or 0)

    def mig_device(self, i: int, slot: int) -> dict[str, Any] | None:
        nv = self._nv
        handle = self._optional(lambda: nv.nvmlDeviceGetMigDeviceHandleByIndex(self._h(i), slot))
        if handle is None:
            return None
        attrs = nv.nvmlDeviceGetAttributes(handle)
        return {
            "uuid": self._text(nv.nvmlDeviceGetUUID(handle)),
            "giId": int(nv.nvmlDeviceGetGpuInstanceId(handle)),
            "ciId": int(nv.nvmlDeviceGetComputeInstanceId(handle)),
            "attributes": {
                key: int(getattr(attrs, key))
                for key in ("multiprocessorCount", "sharedCopyEngineCount", "sharedDecoderCount",
                            "sharedEncoderCount", "sharedJpegCount", "sharedOfaCount",
                            "gpuInstanceSliceCount", "computeInstanceSliceCount", "memorySizeMB")
            },
        }

    def gpu_instance_info(self, i: int, gi_id: int) -> dict[str, Any] | None:
        nv = self._nv
        gi = self._optional(lambda: nv.nvmlDeviceGetGpuInstanceById(self._h(i), gi_id))
        if gi is None:
            return None
        info = nv.nvmlGpuInstanceGetInfo(gi)
        return {
            "profileId": int(info.profileId),
            "placement": [int(info.placement.start), int(info.placement.size)],
        }

    def p2p_nvlink(self, i: int, j: int) -> bool:
        nv = self._nv
        try:
            status = nv.nvmlDeviceGetP2PStatus(self._h(i), self._h(j), nv.NVML_P2P_CAPS_INDEX_NVLINK)
        except nv.NVMLError:
            # Any refusal (MIG mode, virtualised GPU, old driver) means "no usable NVLink path".
            return False
        return status == nv.NVML_P2P_STATUS_OK

    def fabric_info(self, i: int) -> dict[str, Any] | None:
        nv = self._nv
        info_v = getattr(nv, "c_nvmlGpuFabricInfo_v2_t", None)
        if info_v is not None and hasattr(nv, "nvmlDeviceGetGpuFabricInfoV"):
            info = info_v()
            done = self._optional(lambda: nv.nvmlDeviceGetGpuFabricInfoV(self._h(i), nv.byref(info)))
        else:
            info = nv.c_nvmlGpuFabricInfo_t()
            done = self._optional(lambda: nv.nvmlDeviceGetGpuFabricInfo(self._h(i), nv.byref(info)))
        if done is None or int(info.state) == nv.NVML_GPU_FABRIC_STATE_NOT_SUPPORTED:
            return None
        return {
            "clusterUuid": str(uuid.UUID(bytes=bytes(info.clusterUuid))),
            "cliqueId": int(info.cliqueId),
            "state": int(info.state),
            "status": int(info.status),
        }

    # -- sysfs (PCI topology is not in NVML) -------------------------------------------
    def pcie_root(self, bus_id: str) -> str | None:
        """``pci<domain>:<bus>`` of the root complex above the device, from sysfs."""
        link = self._sysfs / "bus" / "pci" / "devices" / bus_id
        try:
            real = os.path.realpath(link)
        except OSError:
            return None
        for part in Path(real).parts:
            if part.startswith("pci") and ":" in part:
                return part
        return None

    def sysfs_numa_node(self, bus_id: str) -> int | None:
        try:
            return int((self._sysfs / "bus" / "pci" / "devices" / bus_id / "numa_node").read_text())
        except (OSError, ValueError):
            return None


# ---------------------------------------------------------------------------------------
# record / replay


def _key(name: str, args: tuple[Any, ...]) -> str:
    return f"{name}({', '.join(repr(a) for a in args)})"


class RecordingCalls:
    """Pass every call through to ``inner`` and remember its answer (or NVML error code)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.answers: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Callable[..., Any]:
        target = getattr(self._inner, name)

        def call(*args: Any) -> Any:
            key = _key(name, args)
            try:
                result = target(*args)
            except Exception as err:  # noqa: BLE001 - re-raised after noting the code
                self.answers[key] = {"__nvmlError__": getattr(err, "value", str(err))}
                raise
            self.answers[key] = result
            return result

        return call

    def save(self, path: str | os.PathLike[str], *, note: str = "") -> None:
        Path(path).write_text(
            json.dumps({"format": RECORDING_FORMAT, "note": note, "answers": self.answers},
                       indent=1, sort_keys=True)
            + "\n"
        )


class RecordedCalls:
    """Answer the calls from a recording; an unrecorded call is an error naming it."""

    def __init__(self, answers: dict[str, Any], *, source: str = "<recording>") -> None:
        self._answers = answers
        self._source = source

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "RecordedCalls":
        try:
            data = json.loads(Path(path).read_text())
        except OSError as err:
            raise RecordingError(f"{path}: cannot read NVML recording ({err.strerror})") from None
        except json.JSONDecodeError as err:
            raise RecordingError(f"{path}:{err.lineno}: invalid JSON ({err.msg})") from None
        if not isinstance(data, dict) or data.get("format") != RECORDING_FORMAT:
            raise RecordingError(f"{path}: not an NVML recording (format {RECORDING_FORMAT!r} expected)")
        return cls(data.get("answers") or {}, source=str(path))

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args: Any) -> Any:
            key = _key(name, args)
            if key not in self._answers:
                raise RecordingError(f"{self._source}: no recorded answer for {key}")
            answer = self._answers[key]
            if isinstance(answer, dict) and "__nvmlError__" in answer:
                code = answer["__nvmlError__"]
                if isinstance(code, int):
                    raise _pynvml().NVMLError(code)
                raise RuntimeError(code)
            return answer

        return call
