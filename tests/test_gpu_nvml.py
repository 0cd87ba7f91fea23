"""NVML discovery against recorded answers (and against the real driver where there is one).

The recordings below are written in the format ``dra inventory --nvml --record`` produces:
the answers of :class:`dra.gpu.nvml_calls.PynvmlCalls` methods. They follow what NVML
returns on a DGX H100 (8-digit PCI domain, ``MIG `` name prefix, media-extension and
graphics profile variants, CUDA version as an int) and on a GB200 tray (fabric info). They
were written by hand from those documented answers, not captured on a machine: this
session had no GPU. ``test_real_nvml`` runs the real calls wherever a driver is present.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dra.gpu import nvml
from dra.gpu.nvml_calls import PynvmlCalls, RecordedCalls, RecordingCalls, RecordingError

H100_PROFILES = {
    # profile index -> GI profile info (None = NVML "not supported")
    0: {"id": 19, "name": "MIG 1g.10gb", "sliceCount": 1, "instanceCount": 7, "multiprocessorCount": 16,
        "copyEngineCount": 1, "decoderCount": 1, "encoderCount": 0, "jpegCount": 1, "ofaCount": 0,
        "memorySizeMB": 9984},
    1: {"id": 14, "name": "MIG 2g.20gb", "sliceCount": 2, "instanceCount": 3, "multiprocessorCount": 32,
        "copyEngineCount": 2, "decoderCount": 2, "encoderCount": 0, "jpegCount": 2, "ofaCount": 0,
        "memorySizeMB": 20096},
    2: {"id": 9, "name": "MIG 3g.40gb", "sliceCount": 3, "instanceCount": 2, "multiprocessorCount": 60,
        "copyEngineCount": 3, "decoderCount": 3, "encoderCount": 0, "jpegCount": 3, "ofaCount": 0,
        "memorySizeMB": 40320},
    3: {"id": 5, "name": "MIG 4g.40gb", "sliceCount": 4, "instanceCount": 1, "multiprocessorCount": 64,
        "copyEngineCount": 4, "decoderCount": 4, "encoderCount": 0, "jpegCount": 4, "ofaCount": 0,
        "memorySizeMB": 40320},
    4: {"id": 0, "name": "MIG 7g.80gb", "sliceCount": 7, "instanceCount": 1, "multiprocessorCount": 132,
        "copyEngineCount": 8, "decoderCount": 7, "encoderCount": 0, "jpegCount": 7, "ofaCount": 1,
        "memorySizeMB": 81024},
    7: {"id": 20, "name": "MIG 1g.10gb+me", "sliceCount": 1, "instanceCount": 1, "multiprocessorCount": 16,
        "copyEngineCount": 1, "decoderCount": 7, "encoderCount": 0, "jpegCount": 7, "ofaCount": 1,
        "memorySizeMB": 9984},
    9: {"id": 15, "name": "MIG 1g.20gb", "sliceCount": 1, "instanceCount": 4, "multiprocessorCount": 26,
        "copyEngineCount": 1, "decoderCount": 1, "encoderCount": 0, "jpegCount": 1, "ofaCount": 0,
        "memorySizeMB": 20096},
}
H100_PLACEMENTS = {
    19: [[s, 1] for s in range(7)],
    14: [[0, 2], [2, 2], [4, 2]],
    9: [[0, 4], [4, 4]],
    5: [[0, 4]],
    0: [[0, 8]],
    20: [[s, 1] for s in range(7)],
    15: [[0, 2], [2, 2], [4, 2], [6, 2]],
}
H100_BUSES = ["00000000:18:00.0", "00000000:2A:00.0", "00000000:3A:00.0", "00000000:5D:00.0",
              "00000000:9A:00.0", "00000000:AB:00.0", "00000000:BA:00.0", "00000000:DB:00.0"]


def _k(name: str, *args: object) -> str:
    return f"{name}({', '.join(repr(a) for a in args)})"


def dgx_h100_answers(*, mig_gpu0: bool = True) -> dict[str, object]:
    """8 H100 on NVSwitch; GPU 0 has MIG on with 3g.40gb@4 + 2g.20gb@0 + 1g.10gb@2."""
    a: dict[str, object] = {
        _k("init"): None, _k("shutdown"): None,
        _k("system_driver_version"): "550.54.15",
        _k("system_cuda_driver_version"): 12040,
        _k("device_count"): 8,
    }
    for i in range(8):
        bus = H100_BUSES[i]
        norm = "0000:" + bus.split(":", 1)[1].lower()
        a[_k("uuid", i)] = f"GPU-0000000{i}-1111-2222-3333-444444444444"
        a[_k("minor", i)] = 7 - i  # minors need not follow indexes
        a[_k("name", i)] = "NVIDIA H100 80GB HBM3"
        a[_k("brand", i)] = 14
        a[_k("architecture", i)] = 9
        a[_k("compute_capability", i)] = [9, 0]
        a[_k("memory_total", i)] = 81559 * 1024 * 1024
        a[_k("pci_bus_id", i)] = bus
        a[_k("multiprocessors", i)] = 132
        a[_k("numa_node", i)] = None  # older NVML: falls back to sysfs
        a[_k("sysfs_numa_node", norm)] = 0 if i < 4 else 1
        a[_k("pcie_root", norm)] = f"pci0000:{int(bus.split(':')[1], 16) - 3:02x}"
        mig_on = mig_gpu0 and i == 0
        a[_k("mig_mode", i)] = [1, 1] if mig_on else [0, 0]
        for index in range(0x12):
            a[_k("gi_profile_info", i, index)] = H100_PROFILES.get(index)
        for pid, placements in H100_PLACEMENTS.items():
            a[_k("gi_possible_placements", i, pid)] = placements
        a[_k("fabric_info", i)] = None
        for j in range(i + 1, 8):
            a[_k("p2p_nvlink", i, j)] = True
    if mig_gpu0:
        a[_k("max_mig_device_count", 0)] = 7
        layout = [(1, 9, 4, 4, 60, 3, 40320, 3), (2, 14, 0, 2, 32, 2, 20096, 2), (3, 19, 2, 1, 16, 1, 9984, 1)]
        for slot in range(7):
            a[_k("mig_device", 0, slot)] = None
        for slot, (gi, pid, start, size, sms, slices, mem, ce) in enumerate(layout):
            a[_k("mig_device", 0, slot)] = {
                "uuid": f"MIG-aaaaaaa{slot}-1111-2222-3333-444444444444", "giId": gi, "ciId": 0,
                "attributes": {"multiprocessorCount": sms, "sharedCopyEngineCount": ce,
                               "sharedDecoderCount": ce, "sharedEncoderCount": 0, "sharedJpegCount": ce,
                               "sharedOfaCount": 0, "gpuInstanceSliceCount": slices,
                               "computeInstanceSliceCount": slices, "memorySizeMB": mem},
            }
            a[_k("gpu_instance_info", 0, gi)] = {"profileId": pid, "placement": [start, size]}
    return a


def test_discover_dgx_h100_from_recorded_answers() -> None:
    inv = nvml.discover("dgx-7", calls=RecordedCalls(dgx_h100_answers()))
    assert inv.node_name == "dgx-7" and inv.source == "nvml"
    assert len(inv.gpus) == 8
    g0, g5 = inv.gpus[0], inv.gpus[5]
    assert g0.pci_bus_id == "0000:18:00.0" and g5.pci_bus_id == "0000:ab:00.0"
    assert g0.pcie_root == "pci0000:15"
    assert (g0.numa_node, g5.numa_node) == (0, 1)
    assert g0.minor == 7 and g0.index == 0
    assert g0.brand == "Nvidia" and g0.architecture == "Hopper"
    assert g0.cuda_compute_capability == "9.0"
    assert g0.driver_version == "550.54.15" and g0.cuda_driver_version == "12.4"
    assert g0.memory_bytes == 81559 * 2**20 and g0.multiprocessors == 132
    # Only full-compute-instance profiles without "+me" are kept, ordered small to large.
    assert [p.name for p in g0.mig_profiles] == ["1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"]
    p1g = g0.profile("1g.10gb")
    assert p1g is not None and p1g.gi_profile_id == 19 and p1g.max_instances == 7
    assert g0.profile("1g.20gb").memory_slices == 2  # type: ignore[union-attr]
    assert g0.memory_slice_count == 8
    assert g0.mig_capable and g0.mig_enabled and not g5.mig_enabled
    assert [(d.profile, d.placement.start, d.placement.size, d.gi_id) for d in g0.mig_devices] == [
        ("2g.20gb", 0, 2, 2), ("1g.10gb", 2, 1, 3), ("3g.40gb", 4, 4, 1)]
    assert g5.mig_devices == ()
    # NVSwitch: one peer group; one domain id derived from the node name.
    assert inv.nvlink_groups == (tuple(range(8)),)
    assert {g.nvlink_domain for g in inv.gpus} == {"dgx-7-nvl0"}
    assert g0.fabric_cluster_uuid is None and g0.clique_id is None


def test_nvlink_pairs_and_no_nvlink() -> None:
    answers = dgx_h100_answers(mig_gpu0=False)
    for i in range(8):
        for j in range(i + 1, 8):
            answers[_k("p2p_nvlink", i, j)] = (j == i + 1 and i % 2 == 0) or (i, j) == (4, 6)
    inv = nvml.discover("n", calls=RecordedCalls(answers))
    assert inv.nvlink_groups == ((0, 1), (2, 3), (4, 5, 6, 7))
    domains = [g.nvlink_domain for g in inv.gpus]
    assert domains == ["n-nvl0", "n-nvl0", "n-nvl1", "n-nvl1", "n-nvl2", "n-nvl2", "n-nvl2", "n-nvl2"]


def test_fabric_clique_on_gb200() -> None:
    answers = dgx_h100_answers(mig_gpu0=False)
    answers[_k("device_count")] = 4
    for i in range(4):
        answers[_k("name", i)] = "NVIDIA GB200"
        answers[_k("architecture", i)] = 10
        answers[_k("fabric_info", i)] = {"clusterUuid": "0b7a6c2e-1b1c-4b7e-9a6e-3d2f1c0b9a88",
                                         "cliqueId": 32766, "state": 3, "status": 0}
    inv = nvml.discover("tray-3", calls=RecordedCalls(answers))
    g = inv.gpus[2]
    assert g.architecture == "Blackwell"
    assert g.fabric_cluster_uuid == "0b7a6c2e-1b1c-4b7e-9a6e-3d2f1c0b9a88" and g.clique_id == "32766"
    assert g.nvlink_domain == "0b7a6c2e-1b1c-4b7e-9a6e-3d2f1c0b9a88.32766" == g.fabric_clique


def test_fabric_not_completed_is_ignored() -> None:
    answers = dgx_h100_answers(mig_gpu0=False)
    answers[_k("fabric_info", 0)] = {"clusterUuid": "0b7a6c2e-1b1c-4b7e-9a6e-3d2f1c0b9a88",
                                     "cliqueId": 1, "state": 2, "status": 0}
    inv = nvml.discover("n", calls=RecordedCalls(answers))
    assert inv.gpus[0].clique_id is None and inv.gpus[0].nvlink_domain == "n-nvl0"


def test_no_driver_is_one_clear_user_error() -> None:
    answers = {_k("init"): {"__nvmlError__": 12}}  # NVML_ERROR_LIBRARY_NOT_FOUND
    with pytest.raises(nvml.NvmlUnavailableError) as err:
        nvml.discover("n", calls=RecordedCalls(answers))
    message = str(err.value)
    assert "NVML is not available" in message and "--profile" in message and "\n" not in message


def test_failing_gpu_query_is_not_a_user_error() -> None:
    answers = dgx_h100_answers(mig_gpu0=False)
    answers[_k("memory_total", 3)] = {"__nvmlError__": 15}  # NVML_ERROR_GPU_IS_LOST
    with pytest.raises(nvml.NvmlQueryError, match="GPU is lost"):
        nvml.discover("n", calls=RecordedCalls(answers))


def test_record_then_replay_gives_the_same_inventory(tmp_path: Path) -> None:
    recorder = RecordingCalls(RecordedCalls(dgx_h100_answers()))
    first = nvml.discover("n", calls=recorder)
    path = tmp_path / "rec.json"
    recorder.save(path, note="test")
    again = nvml.discover("n", calls=RecordedCalls.load(path))
    assert again == first
    assert json.loads(path.read_text())["format"] == "dra-nvml-recording/v1"


def test_unrecorded_call_names_the_call(tmp_path: Path) -> None:
    answers = dgx_h100_answers()
    del answers[_k("uuid", 2)]
    with pytest.raises(RecordingError, match=r"uuid\(2\)"):
        nvml.discover("n", calls=RecordedCalls(answers))
    bad = tmp_path / "bad.json"
    bad.write_text("{\n  nope")
    with pytest.raises(RecordingError, match="bad.json:2"):
        RecordedCalls.load(bad)


def test_pcie_root_and_numa_from_sysfs(tmp_path: Path) -> None:
    real = tmp_path / "devices" / "pci0000:64" / "0000:64:01.0" / "0000:65:00.0"
    real.mkdir(parents=True)
    (real / "numa_node").write_text("1\n")
    link_dir = tmp_path / "bus" / "pci" / "devices"
    link_dir.mkdir(parents=True)
    os.symlink(real, link_dir / "0000:65:00.0")
    calls = PynvmlCalls(sysfs=tmp_path)
    assert calls.pcie_root("0000:65:00.0") == "pci0000:64"
    assert calls.sysfs_numa_node("0000:65:00.0") == 1
    assert calls.sysfs_numa_node("0000:99:00.0") is None


def test_helpers() -> None:
    assert nvml.normalize_bus_id("00000000:AB:00.0") == "0000:ab:00.0"
    assert nvml.cuda_version_text(13000) == "13.0" and nvml.cuda_version_text(12080) == "12.8"


def test_real_nvml() -> None:
    """Runs the real pynvml calls; on a machine without a driver it checks the clear error."""
    try:
        inv = nvml.discover("this-node")
    except nvml.NvmlUnavailableError as err:
        assert "NVML is not available" in str(err)
        pytest.skip(f"no NVIDIA driver here: {err}")
    assert inv.gpus, "NVML is up but reported no GPU"
    for gpu in inv.gpus:
        assert gpu.uuid.startswith("GPU-") and gpu.memory_bytes > 0
        assert gpu.pci_bus_id.count(":") == 2 and gpu.nvlink_domain


def _fake_pynvml():
    """The real pynvml module's constants and ctypes structures with the C calls replaced.

    This checks the conversion code of PynvmlCalls (ctypes structs and out-parameters to
    plain data) without a driver; the answers mimic an H100 with MIG on.
    """
    import types

    import pynvml as real

    fake = types.SimpleNamespace(**{k: getattr(real, k) for k in dir(real) if not k.startswith("__")})
    handle = object()

    def placements(h, profile_id, array, count_ref):
        assert h is handle and profile_id == 9
        array[0].start, array[0].size = 0, 4
        array[1].start, array[1].size = 4, 4
        count_ref._obj.value = 2
        return real.NVML_SUCCESS

    def profile_info(h, index):
        if index != 2:
            raise real.NVMLError(real.NVML_ERROR_NOT_SUPPORTED)
        info = real.c_nvmlGpuInstanceProfileInfo_v2_t()
        info.id, info.sliceCount, info.memorySizeMB, info.name = 9, 3, 40320, b"MIG 3g.40gb"
        return info

    def fabric(h, ref):
        info = ref._obj
        info.clusterUuid[:] = list(range(16))
        info.cliqueId, info.state, info.status = 7, 3, 0
        return real.NVML_SUCCESS

    def memory(h):
        m = real.c_nvmlMemory_t()
        m.total = 85520809984
        return m

    def pci(h):
        p = real.nvmlPciInfo_t()
        p.busId = b"00000000:18:00.0"
        return p

    fake.nvmlDeviceGetHandleByIndex = lambda i: handle
    fake.nvmlDeviceGetGpuInstancePossiblePlacements = placements
    fake.nvmlDeviceGetGpuInstanceProfileInfo = profile_info
    fake.nvmlDeviceGetGpuFabricInfoV = fabric
    fake.nvmlDeviceGetMemoryInfo = memory
    fake.nvmlDeviceGetPciInfo = pci
    fake.nvmlDeviceGetName = lambda h: "NVIDIA H100 80GB HBM3"
    fake.nvmlDeviceGetMigMode = lambda h: [1, 1]
    fake.nvmlDeviceGetCudaComputeCapability = lambda h: (9, 0)

    def no_numa(h):
        raise real.NVMLError(real.NVML_ERROR_NOT_SUPPORTED)

    def lost(h):
        raise real.NVMLError(real.NVML_ERROR_GPU_IS_LOST)

    fake.nvmlDeviceGetNumaNodeId = no_numa
    fake.nvmlDeviceGetBrand = lost
    return fake


def test_pynvml_calls_convert_ctypes_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    from dra.gpu import nvml_calls

    fake = _fake_pynvml()
    monkeypatch.setattr(nvml_calls, "_pynvml", lambda: fake)
    calls = PynvmlCalls()
    assert calls.gi_possible_placements(0, 9) == [[0, 4], [4, 4]]
    info = calls.gi_profile_info(0, 2)
    assert info is not None and info["id"] == 9 and info["name"] == "MIG 3g.40gb"
    assert calls.gi_profile_info(0, 5) is None  # not supported -> None
    fab = calls.fabric_info(0)
    assert fab == {"clusterUuid": "00010203-0405-0607-0809-0a0b0c0d0e0f", "cliqueId": 7, "state": 3, "status": 0}
    assert calls.memory_total(0) == 85520809984
    assert calls.pci_bus_id(0) == "00000000:18:00.0"
    assert calls.mig_mode(0) == [1, 1] and calls.compute_capability(0) == [9, 0]
    assert calls.numa_node(0) is None
    with pytest.raises(Exception, match="GPU is lost"):
        calls.brand(0)  # real failures are not hidden as "unsupported"


def test_mig_profiles_fall_back_to_the_catalog_when_nvml_lists_none() -> None:
    answers = dgx_h100_answers(mig_gpu0=False)
    for index in range(0x12):
        answers[_k("gi_profile_info", 1, index)] = None
    inv = nvml.discover("n", calls=RecordedCalls(answers))
    from dra.gpu.catalog import find_model

    assert inv.gpus[1].mig_profiles == find_model("H100-SXM5-80GB").mig_profiles
    assert inv.gpus[1].mig_capable and not inv.gpus[1].mig_enabled
