"""The GPU's compute mode through NVML's C prototype, and the time slice this node set.

``nvmlDeviceGetComputeMode(nvmlDevice_t device, nvmlComputeMode_t *mode)`` is the NVML call
the time-slicing check reads (NVML has no public read of the compute-policy time slice that
``nvidia-smi compute-policy --set-timeslice`` writes; nvml.h only has the vGPU scheduler's).
The fake library has the real prototype, so the wrong ctypes signature (the mode passed by
value) dies with SIGSEGV in a child process, as it would on a node.
"""

from __future__ import annotations

import signal
import textwrap

from fakenvml.fakeroot import GPU0, GPU1
from tests.test_gpu_nvml_fake import SYMBOL_SPY, answer, driver_root, fake_lib, run_child  # noqa: F401 - fixtures


def test_compute_mode_read_through_the_c_prototype(driver_root, tmp_path):  # noqa: F811
    root, state = driver_root
    (state / f"computemode-{GPU1}").write_text("3\n")
    out = answer(run_child(f"""
        from dra.plugin.nvml_backend import NvmlBackend
        b = NvmlBackend(Path({str(tmp_path / 'p')!r}), [{GPU0!r}, {GPU1!r}])
        print(json.dumps([b.compute_mode({GPU0!r}), b.compute_mode({GPU1!r})]))
        b.close()
    """, root, state))
    assert out == ["Default", "ExclusiveProcess"]


def test_mode_passed_by_value_crashes_like_on_a_node(driver_root):  # noqa: F811
    root, state = driver_root
    result = run_child(f"""
        import ctypes
        import pynvml as nv
        nv.nvmlInit()
        h = nv.nvmlDeviceGetHandleByUUID({GPU0!r})
        fn = nv._nvmlGetFunctionPointer("nvmlDeviceGetComputeMode")
        fn(h, ctypes.c_uint(3))   # the mode by value, where NVML takes nvmlComputeMode_t *
        print("survived")
    """, root, state)
    assert result.returncode == -signal.SIGSEGV, (result.returncode, result.stdout, result.stderr[-500:])


def test_time_slice_set_is_remembered_on_the_host(driver_root, tmp_path):  # noqa: F811
    """What this node set survives the process (and a lost checkpoint); Default clears it."""
    root, state = driver_root
    code = f"""
        import os
        from dra.plugin.nvml_backend import NvmlBackend
        b = NvmlBackend(Path({str(tmp_path / 'p')!r}), [{GPU0!r}, {GPU1!r}], driver_root_mount=Path({str(root)!r}))
        if os.environ.get("SET"):
            b.set_time_slice({GPU0!r}, os.environ["SET"])
        print(json.dumps([b.time_slice({GPU0!r}), b.time_slice({GPU1!r})]))
        b.close()
    """
    (tmp_path / "p").mkdir()
    assert answer(run_child(code, root, state, SET="Long")) == ["Long", "Default"]
    assert answer(run_child(code, root, state)) == ["Long", "Default"]
    assert answer(run_child(code, root, state, SET="Default")) == ["Default", "Default"]
    assert "compute-policy -i " + GPU0 + " --set-timeslice=3" in (state / "nvidia-smi.log").read_text()


def test_the_fake_exports_what_the_check_reaches(driver_root, tmp_path):  # noqa: F811
    root, state = driver_root
    out = answer(run_child(SYMBOL_SPY + textwrap.dedent(f"""
        from dra.plugin.nvml_backend import NvmlBackend
        b = NvmlBackend(Path({str(tmp_path / 'p')!r}), [{GPU0!r}])
        b.compute_mode({GPU0!r})
        b.close()
        print(json.dumps(sorted(n for n in set(asked) if not hasattr(pynvml.nvmlLib, n))))
    """), root, state))
    assert out == []
