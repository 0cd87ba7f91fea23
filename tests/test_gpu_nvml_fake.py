"""NVML through real nvidia-ml-py against a fake libnvidia-ml.so.1 with NVML's C prototypes.

``tests/fakenvml/fake_nvml.c`` is built here with gcc and laid into a fake driver root; the
code under test loads it from that root (``dra.gpu.nvml_lib``) exactly as on a node. Every
NVML call runs in a child process, so a wrong ctypes signature that makes NVML read a struct
as an address is a SIGSEGV of the child -- a failed test -- and not a dead pytest. What this
proves: the calls' argument shapes, struct layouts and version words agree with NVML's C
API. What it cannot prove: that a real driver answers the way the fake does (``make
gpu-check`` on a GPU machine does that).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fakenvml.fakeroot import GPU0, GPU1, VERSION, build_nvml, make_driver_root

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def fake_lib(tmp_path_factory) -> Path:
    return build_nvml(tmp_path_factory.mktemp("fakenvml"))


@pytest.fixture
def driver_root(tmp_path, fake_lib):
    root = tmp_path / "driver-root"
    made = make_driver_root(root, fake_lib)
    state = tmp_path / "nvml-state"
    state.mkdir()
    yield root, state
    made["socket"].close()


def run_child(code: str, root: Path, state: Path, **env) -> subprocess.CompletedProcess:
    prelude = textwrap.dedent(f"""
        import json, sys
        from pathlib import Path
        from dra.gpu.nvml_lib import load
        load(Path({str(root)!r}))
    """)
    import os

    full_env = dict(os.environ, FAKE_NVML_DIR=str(state), **env)
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=60)


# Child-process prelude recording every NVML symbol pynvml looks up (in ``asked``), so a test
# can require that the fake exports each one the code reaches.
SYMBOL_SPY = """
import pynvml
asked = []
original = pynvml._nvmlGetFunctionPointer
def spy(name):
    asked.append(name)
    return original(name)
pynvml._nvmlGetFunctionPointer = spy
"""


def answer(result: subprocess.CompletedProcess):
    assert result.returncode == 0, f"child exited {result.returncode}: {result.stderr[-2000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_discovery_through_the_c_prototypes(driver_root):
    root, state = driver_root
    inv = answer(run_child("""
        from dra.gpu.nvml import discover
        inv = discover("node-a")
        g0, g1 = inv.gpus
        print(json.dumps({
            "names": [g.product_name for g in inv.gpus], "uuids": [g.uuid for g in inv.gpus],
            "mig": [[g.mig_capable, g.mig_enabled] for g in inv.gpus],
            "profiles": [(p.name, p.gi_profile_id, [(x.start, x.size) for x in p.placements]) for p in g0.mig_profiles],
            "driver": g0.driver_version, "cuda": g0.cuda_driver_version, "mem": g0.memory_bytes,
            "bus": g0.pci_bus_id, "sms": g0.multiprocessors, "numa": [g.numa_node for g in inv.gpus],
        }))
    """, root, state))
    assert inv["names"] == ["NVIDIA H100 80GB HBM3", "NVIDIA L4"] and inv["uuids"] == [GPU0, GPU1]
    assert inv["mig"] == [[True, True], [False, False]]
    assert inv["profiles"] == [["1g.10gb", 19, [[s, 1] for s in range(7)]], ["3g.40gb", 9, [[0, 4], [4, 4]]],
                               ["7g.80gb", 0, [[0, 8]]]]
    assert (inv["driver"], inv["cuda"], inv["bus"], inv["sms"], inv["numa"]) == (VERSION, "12.4", "0000:18:00.0", 132, [0, 1])


def test_struct_by_value_crashes_like_on_a_node(driver_root):
    """The defect this fake exists for: the placement passed by value is read as an address."""
    root, state = driver_root
    result = run_child(f"""
        import pynvml as nv
        nv.nvmlInit()
        h = nv.nvmlDeviceGetHandleByUUID({GPU0!r})
        p = nv.c_nvmlGpuInstancePlacement_t(); p.start, p.size = 3, 1
        nv.nvmlDeviceCreateGpuInstanceWithPlacement(h, 19, p)   # by value: the old bug
        print("survived")
    """, root, state)
    assert result.returncode == -signal.SIGSEGV, (result.returncode, result.stdout, result.stderr[-500:])


def test_dynamic_mig_create_find_destroy(driver_root, tmp_path):
    root, state = driver_root
    out = answer(run_child(f"""
        from dra.plugin.nvml_backend import NvmlBackend
        b = NvmlBackend(Path({str(tmp_path / 'plugin')!r}), [{GPU0!r}, {GPU1!r}])
        made = b.create_mig({GPU0!r}, "1g.10gb", 19, 3, 1)
        again = b.create_mig({GPU0!r}, "1g.10gb", 19, 3, 1)   # idempotent: found, not created twice
        big = b.create_mig({GPU0!r}, "3g.40gb", 9, 4, 4)
        listed = sorted((m.gi_profile_id, m.placement_start, m.uuid) for m in b.list_mig())
        gone = [b.destroy_mig({GPU0!r}, 19, 3), b.destroy_mig({GPU0!r}, 19, 3), b.destroy_mig({GPU1!r}, 19, 0)]
        left = [(m.gi_profile_id, m.placement_start) for m in b.list_mig()]
        b.close()
        print(json.dumps({{"made": [made.gi_id, made.ci_id, made.uuid, made.placement_size], "same": again == made,
                           "big": big.uuid, "listed": listed, "gone": gone, "left": left}}))
    """, root, state))
    assert out["made"][2].startswith("MIG-") and out["made"][3] == 1 and out["same"]
    assert [tuple(x[:2]) for x in out["listed"]] == [(9, 4), (19, 3)]
    assert out["gone"] == [True, False, False] and out["left"] == [[9, 4]]
    calls = (state / "calls.log").read_text()
    assert "nvmlDeviceCreateGpuInstanceWithPlacement start=3 size=1" in calls
    assert calls.count("nvmlDeviceCreateGpuInstanceWithPlacement") == 2  # the repeat found the instance


@pytest.mark.parametrize("gpu, env, reason", [
    (GPU1, {}, f"GPU {GPU1} does not support MIG"),
    (GPU0, {"FAKE_NVML_MIG_OFF": "1"}, f"GPU {GPU0}: MIG mode is disabled"),
])
def test_mig_refused_without_mig_mode(driver_root, tmp_path, gpu, env, reason):
    root, state = driver_root
    out = answer(run_child(f"""
        from dra.plugin.nvml_backend import NvmlBackend, MigUnavailable
        b = NvmlBackend(Path({str(tmp_path / 'plugin')!r}), [{gpu!r}])
        try:
            b.create_mig({gpu!r}, "1g.10gb", 19, 0, 1)
            print(json.dumps("created"))
        except MigUnavailable as err:
            print(json.dumps([str(err), err.error_type, b.list_mig(), b.destroy_mig({gpu!r}, 19, 0)]))
    """, root, state, **env))
    assert out[0].startswith(reason) and out[1:] == ["mig_unavailable", [], False]


def test_health_events_and_confirmed_recovery(driver_root, tmp_path):
    """A fatal XID is reported; recovery only once NVML's recovery action reads NONE."""
    root, state = driver_root
    (state / "events").write_text(f"{GPU0} xid 79\n{GPU1} sbe\n")
    (state / f"recovery-{GPU0}").write_text("1\n")  # NVML_GPU_RECOVERY_ACTION_GPU_RESET
    out = answer(run_child(f"""
        import time
        from dra.plugin.nvml_backend import NvmlBackend
        b = NvmlBackend(Path({str(tmp_path / 'plugin')!r}), [{GPU0!r}, {GPU1!r}], recovery_check_s=0.05)
        seen = []
        def poll():
            evs = b.wait_health_events(0.05)
            seen.extend([e.uuid, e.kind, e.code] for e in evs)
            return evs
        poll(); poll()
        for _ in range(6):
            time.sleep(0.06); poll()           # still needs a reset: never "recovered"
        before = list(seen)
        Path({str(state)!r}, "recovery-{GPU0}").write_text("0\\n")   # the GPU was reset
        for _ in range(6):
            time.sleep(0.06); poll()
        b.close()
        print(json.dumps({{"before": before, "after": seen[len(before):]}}))
    """, root, state))
    assert out["before"] == [[GPU0, "xid", 79], [GPU1, "ecc-sbe", 0]]
    assert out["after"] == [[GPU0, "recovered", 0]]
    assert "nvmlDeviceRegisterEvents mask=11" in (state / "calls.log").read_text()  # XID | DBE | SBE


def test_lost_gpu_is_reported(driver_root, tmp_path):
    root, state = driver_root
    out = answer(run_child(f"""
        from dra.plugin.nvml_backend import NvmlBackend
        b = NvmlBackend(Path({str(tmp_path / 'plugin')!r}), [{GPU0!r}])
        b.wait_health_events(0.01)
        Path({str(state)!r}, "lost-{GPU0}").write_text("")
        print(json.dumps([[e.uuid, e.kind] for e in b.wait_health_events(0.05)] + [b.recovery_confirmed({GPU0!r})]))
    """, root, state))
    assert out == [[GPU0, "gpu-lost"], False]


def test_missing_nvml_is_one_clear_line(tmp_path):
    empty = tmp_path / "no-driver"
    (empty / "etc").mkdir(parents=True)
    result = subprocess.run([sys.executable, "-c", f"""
from pathlib import Path
from dra.gpu.nvml_lib import load
load(Path({str(empty)!r}))
"""], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "libnvidia-ml.so.1 not found under the driver root" in last
    assert f"{empty}/etc/ld.so.cache" in last and "/usr/lib/x86_64-linux-gnu" in last and "--driver-root" in last


def test_every_nvml_symbol_we_reach_is_in_the_fake(driver_root, tmp_path):
    """A function missing from the fake would surface as FunctionNotFound, which discovery
    treats as "not supported" (None): the proof would silently not cover it. So record every
    symbol pynvml looks up while discovery and every backend operation run, and require that
    the fake exports each one."""
    root, state = driver_root
    out = answer(run_child(SYMBOL_SPY + textwrap.dedent(f"""
        from dra.gpu.nvml import discover
        from dra.plugin.nvml_backend import NvmlBackend
        discover("node-a")
        b = NvmlBackend(Path({str(tmp_path / 'p')!r}), [{GPU0!r}, {GPU1!r}], recovery_check_s=0)
        b.create_mig({GPU0!r}, "1g.10gb", 19, 0, 1)
        b.list_mig()
        b.destroy_mig({GPU0!r}, 19, 0)
        b.wait_health_events(0.01)
        b._last_bad[{GPU0!r}] = 0.0
        b.wait_health_events(0.01)
        b.close()
        # checked here, in the child: loading the fake into pytest's own process would make
        # any later dlopen("libnvidia-ml.so.1") there (dask's NVML diagnostics) find it
        missing = sorted(n for n in set(asked) if not hasattr(pynvml.nvmlLib, n))
        print(json.dumps({{"asked": sorted(set(asked)), "missing": missing}}))
    """), root, state))
    assert out["missing"] == [], f"NVML functions the code reaches but the fake lacks: {out['missing']}"
    assert {"nvmlDeviceCreateGpuInstanceWithPlacement", "nvmlDeviceGetFieldValues", "nvmlEventSetWait_v2",
            "nvmlDeviceGetGpuInstanceProfileInfoV", "nvmlDeviceGetMigMode"} <= set(out["asked"])
