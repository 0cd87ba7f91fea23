"""The NVML backend's code paths against a fake ``pynvml`` and fake NVIDIA tools.

No GPU here, so the NVML library is replaced by a small in-memory model with the same call
shapes as nvidia-ml-py (ctypes arrays filled by the callee, NVMLError codes, placements),
and ``nvidia-smi`` / ``nvidia-cuda-mps-control`` by scripts that log their arguments. This
pins the calls the backend makes; it cannot show that a real driver accepts them.
"""

from __future__ import annotations

import ctypes
import os
import stat
import sys
import time
import types
from types import SimpleNamespace as NS

import pytest

from dra.plugin.backend import BackendError, HealthEvent, MpsSettings

GPU = "GPU-11111111-2222-3333-4444-555555555555"


class NVMLError(Exception):
    def __init__(self, value):
        super().__init__(f"NVML error {value}")
        self.value = value


def fake_pynvml() -> types.ModuleType:
    nv = types.ModuleType("pynvml")
    nv.NVMLError = NVMLError
    nv.NVML_ERROR_NOT_FOUND, nv.NVML_ERROR_TIMEOUT, nv.NVML_ERROR_GPU_IS_LOST = 6, 10, 15
    nv.NVML_ERROR_INSUFFICIENT_RESOURCES, nv.NVML_ERROR_IN_USE, nv.NVML_ERROR_NOT_SUPPORTED = 23, 19, 3
    nv.NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED = 0
    nv.nvmlEventTypeSingleBitEccError, nv.nvmlEventTypeDoubleBitEccError, nv.nvmlEventTypeXidCriticalError = 1, 2, 8
    nv.c_uint, nv.byref = ctypes.c_uint, ctypes.byref
    nv.c_nvmlGpuInstance_t = nv.c_nvmlComputeInstance_t = ctypes.c_void_p

    class Placement:
        start = size = 0

    nv.c_nvmlGpuInstancePlacement_t = Placement
    state = NS(gis={}, cis={}, next=100, events=[], registered=0, init=0)
    nv.state = state
    handle = 1
    gi_profiles = {0: NS(id=19, sliceCount=1), 4: NS(id=0, sliceCount=7)}

    def check_gpu(h):
        if h != handle:
            raise NVMLError(nv.NVML_ERROR_NOT_FOUND)

    def new_handle():
        state.next += 1
        return state.next

    nv.nvmlInit = lambda: setattr(state, "init", state.init + 1)
    nv.nvmlShutdown = lambda: setattr(state, "init", state.init - 1)
    nv.nvmlDeviceGetHandleByUUID = lambda uuid: handle if uuid == GPU else (_ for _ in ()).throw(NVMLError(6))

    def profile_info(h, index):
        check_gpu(h)
        if index not in gi_profiles:
            raise NVMLError(nv.NVML_ERROR_NOT_SUPPORTED)
        return gi_profiles[index]

    nv.nvmlDeviceGetGpuInstanceProfileInfo = profile_info

    def get_gis(h, profile_id, array, count_ref):
        found = [g for g, info in state.gis.items() if info.profileId == profile_id]
        for i, g in enumerate(found):
            array[i] = g
        count_ref._obj.value = len(found)

    nv.nvmlDeviceGetGpuInstances = get_gis

    def create_gi(h, profile_id, placement):
        check_gpu(h)
        wanted = set(range(placement.start, placement.start + placement.size))
        for info in state.gis.values():
            if wanted & set(range(info.placement.start, info.placement.start + info.placement.size)):
                raise NVMLError(nv.NVML_ERROR_INSUFFICIENT_RESOURCES)
        g = new_handle()
        used = {i.id for i in state.gis.values()}
        gi_id = next(n for n in range(1, 9) if n not in used)
        state.gis[g] = NS(id=gi_id, profileId=profile_id, placement=NS(start=placement.start, size=placement.size))
        return g

    nv.nvmlDeviceCreateGpuInstanceWithPlacement = create_gi
    nv.nvmlGpuInstanceGetInfo = lambda g: state.gis[g]

    def ci_profile(g, index, engine):
        slices = next(p.sliceCount for p in gi_profiles.values() if p.id == state.gis[g].profileId)
        full = {1: 0, 7: 4}[slices]
        if index != full:
            raise NVMLError(nv.NVML_ERROR_NOT_SUPPORTED)
        return NS(id=index)

    nv.nvmlGpuInstanceGetComputeInstanceProfileInfo = ci_profile

    def create_ci(g, profile_id):
        c = new_handle()
        state.cis[c] = NS(gi=g, id=0, uuid=f"MIG-fake-{state.gis[g].id}")
        return c

    nv.nvmlGpuInstanceCreateComputeInstance = create_ci

    def get_cis(g, profile_id, array, count_ref):
        found = [c for c, info in state.cis.items() if info.gi == g]
        for i, c in enumerate(found):
            array[i] = c
        count_ref._obj.value = len(found)

    nv.nvmlGpuInstanceGetComputeInstances = get_cis
    nv.nvmlComputeInstanceDestroy = lambda c: state.cis.pop(c)

    def destroy_gi(g):
        if any(ci.gi == g for ci in state.cis.values()):
            raise NVMLError(nv.NVML_ERROR_IN_USE)
        state.gis.pop(g)

    nv.nvmlGpuInstanceDestroy = destroy_gi
    nv.nvmlDeviceGetMaxMigDeviceCount = lambda h: 7

    def mig_by_index(h, i):
        cis = sorted(state.cis)
        if i >= len(cis):
            raise NVMLError(nv.NVML_ERROR_NOT_FOUND)
        return ("mig", cis[i])

    nv.nvmlDeviceGetMigDeviceHandleByIndex = mig_by_index
    nv.nvmlDeviceGetGpuInstanceId = lambda m: state.gis[state.cis[m[1]].gi].id
    nv.nvmlDeviceGetComputeInstanceId = lambda m: state.cis[m[1]].id
    nv.nvmlDeviceGetUUID = lambda m: GPU if m == handle else state.cis[m[1]].uuid

    nv.nvmlEventSetCreate = lambda: "event-set"
    nv.nvmlEventSetFree = lambda s: None
    nv.nvmlDeviceRegisterEvents = lambda h, mask, s: setattr(state, "registered", mask)

    def wait(s, ms):
        if not state.events:
            raise NVMLError(nv.NVML_ERROR_TIMEOUT)
        kind, data = state.events.pop(0)
        if kind == "lost":
            raise NVMLError(nv.NVML_ERROR_GPU_IS_LOST)
        return NS(device=handle, eventType=kind, eventData=data)

    nv.nvmlEventSetWait_v2 = wait
    return nv


@pytest.fixture
def nv(monkeypatch):
    module = fake_pynvml()
    monkeypatch.setitem(sys.modules, "pynvml", module)
    return module


@pytest.fixture
def backend(nv, tmp_path):
    from dra.plugin.nvml_backend import NvmlBackend

    b = NvmlBackend(tmp_path, [GPU], recovery_quiet_s=0.3)
    yield b
    b.close()


def test_mig_create_find_and_destroy(backend, nv):
    inst = backend.create_mig(GPU, "1g.10gb", 19, 2, 1)
    assert (inst.gi_profile_id, inst.placement_start, inst.gi_id, inst.uuid) == (19, 2, 1, "MIG-fake-1")
    assert backend.create_mig(GPU, "1g.10gb", 19, 2, 1).gi_id == 1  # found again, not re-created
    with pytest.raises(BackendError, match="creating MIG 7g.80gb@0 failed"):
        backend.create_mig(GPU, "7g.80gb", 0, 0, 8)
    assert [(m.gi_profile_id, m.placement_start) for m in backend.list_mig()] == [(19, 2)]
    assert backend.destroy_mig(GPU, 19, 2)
    assert not backend.destroy_mig(GPU, 19, 2)
    assert nv.state.gis == {} and nv.state.cis == {}
    with pytest.raises(BackendError, match="profile id 14 is not supported"):
        backend.create_mig(GPU, "2g.20gb", 14, 0, 2)
    with pytest.raises(BackendError, match="GPU GPU-nope"):
        backend.create_mig("GPU-nope", "1g.10gb", 19, 0, 1)


def test_health_events(backend, nv):
    assert backend.wait_health_events(0.01) == []
    assert nv.state.registered == 1 | 2 | 8
    nv.state.events += [(8, 79), (2, 0), (1, 0)]
    got = [backend.wait_health_events(0.01) for _ in range(3)]
    assert got == [[HealthEvent(GPU, "xid", 79)], [HealthEvent(GPU, "ecc-dbe")], [HealthEvent(GPU, "ecc-sbe")]]
    assert backend.wait_health_events(0.01) == []  # still within the quiet period (0.3 s here)
    time.sleep(0.35)
    assert backend.wait_health_events(0.01) == [HealthEvent(GPU, "recovered")]
    assert backend.wait_health_events(0.01) == []
    nv.state.events.append(("lost", 0))
    assert HealthEvent(GPU, "gpu-lost") in backend.wait_health_events(0.01)


def _fake_tool(bin_dir, name, log):
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\necho \"{name} $*\" >> {log}\ncat >> {log} 2>/dev/null || true\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_sharing_commands(backend, tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "tools.log"
    for tool in ("nvidia-smi", "nvidia-cuda-mps-control"):
        _fake_tool(bin_dir, tool, log)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    backend.set_time_slice(GPU, "Medium")
    daemon = backend.start_mps("claim-1", [GPU], MpsSettings(30, {GPU: 2 << 30}))
    assert daemon.pipe_dir.endswith("mps/claim-1/pipe")
    (tmp_path / "mps" / "claim-1" / "pipe" / "control").write_text("")  # the daemon's socket
    backend.stop_mps("claim-1")
    text = log.read_text()
    assert f"nvidia-smi compute-policy -i {GPU} --set-timeslice=2" in text
    assert "nvidia-cuda-mps-control -d" in text
    assert "set_default_active_thread_percentage 30" in text
    assert f"set_default_device_pinned_mem_limit {GPU} 2048M" in text
    assert "quit" in text


def test_missing_tool_is_a_backend_error(backend, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(BackendError, match="nvidia-smi"):
        backend.set_time_slice(GPU, "Long")
