"""CDI specs that run CUDA: the host driver's files, discovered from a fake driver root.

The root (``tests/fakenvml/fakeroot``) is laid out like a real driver install, with a real
``ld.so.cache`` written by ``ldconfig -r`` where this test runs as root. Before this change a
claim's spec carried only device nodes: a CUDA container would have started without libcuda.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dra.gpu import nvml_ldcache
from dra.gpu.nvml_lib import NvmlLibraryNotFound
from dra.plugin.cdi import CdiWriter, ContainerEdits
from dra.plugin.driverfiles import ANNOTATION_HOOK, discover
from fakenvml.fakeroot import LIBDIR, OTHER_LIBS, VERSION, build_nvml, make_driver_root


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    return build_nvml(tmp_path_factory.mktemp("lib"))


@pytest.fixture
def root(tmp_path, lib):
    made = make_driver_root(tmp_path / "mnt", lib)
    yield tmp_path / "mnt", made
    made["socket"].close()


def test_ldconfig_cache_of_the_fake_root_is_read(root):
    mount, made = root
    if not made["ldcache"]:
        pytest.skip("ldconfig -r needs root here: the fake root has no ld.so.cache")
    entries = dict(nvml_ldcache.read(mount))
    assert entries["libnvidia-ml.so.1"] == f"{LIBDIR}/libnvidia-ml.so.1"
    assert entries["libcuda.so.1"] == f"{LIBDIR}/libcuda.so.1"
    # The i386 folder's file is not a 64-bit ELF library: ldconfig leaves it out.
    assert not any("i386" in p for p in entries.values())


def test_spec_carries_libraries_binaries_firmware_sockets_and_hooks(root, tmp_path):
    mount, _ = root
    files = discover("/run/nvidia/driver", mount)
    assert files.version == VERSION
    libs = {Path(p).name for _, p in files.libraries}
    assert libs == {f"{n}.so.{VERSION}" for n in ("libnvidia-ml",) + OTHER_LIBS}
    assert files.binaries == ["/usr/bin/nvidia-smi", "/usr/bin/nvidia-debugdump", "/usr/bin/nvidia-persistenced",
                              "/usr/bin/nvidia-cuda-mps-control", "/usr/bin/nvidia-cuda-mps-server"]
    assert files.firmware == [f"/lib/firmware/nvidia/{VERSION}/gsp_ga10x.bin", f"/lib/firmware/nvidia/{VERSION}/gsp_tu10x.bin"]
    assert files.ipc_sockets == ["/run/nvidia-persistenced/socket"]
    assert files.hook == ("nvidia-cdi-hook", "/usr/bin/nvidia-cdi-hook") and files.hook_absent is None

    writer = CdiWriter(tmp_path / "cdi", "gpu.nvidia.com", files.container_edits(), files.annotations())
    spec = writer.build_spec("ns/c", "uid-1", [], ContainerEdits(device_nodes=[{"path": "/dev/nvidiactl"}]), [])
    edits = spec["containerEdits"]
    mounts = {m["containerPath"]: m for m in edits["mounts"]}
    cuda = mounts[f"{LIBDIR}/libcuda.so.{VERSION}"]
    # hostPath is a *host* path: the driver root, not where the plugin sees it.
    assert cuda["hostPath"] == f"/run/nvidia/driver{LIBDIR}/libcuda.so.{VERSION}"
    assert cuda["options"] == ["ro", "nosuid", "nodev", "rbind", "rprivate"]
    assert mounts["/usr/bin/nvidia-smi"]["hostPath"] == "/run/nvidia/driver/usr/bin/nvidia-smi"
    assert f"/lib/firmware/nvidia/{VERSION}/gsp_ga10x.bin" in mounts
    assert "noexec" in mounts["/run/nvidia-persistenced/socket"]["options"]
    assert not any(str(mount) in m["hostPath"] for m in edits["mounts"])
    hooks = edits["hooks"]
    assert [h["args"][1] for h in hooks] == ["create-symlinks", "update-ldcache"]
    assert all(h["hookName"] == "createContainer" and h["path"] == "/run/nvidia/driver/usr/bin/nvidia-cdi-hook" for h in hooks)
    assert hooks[0]["args"][2:] == ["--link", f"libcuda.so.1::{LIBDIR}/libcuda.so"]
    assert hooks[1]["args"][2:] == ["--folder", LIBDIR]
    assert edits["deviceNodes"] == [{"path": "/dev/nvidiactl"}]
    assert spec["cdiVersion"] == "0.6.0" and ANNOTATION_HOOK not in spec["annotations"]


def test_without_a_hook_the_spec_says_so_and_mounts_sonames(tmp_path, lib):
    made = make_driver_root(tmp_path / "r", lib, hook=False)
    try:
        files = discover("/", tmp_path / "r")
    finally:
        made["socket"].close()
    assert files.hook is None and files.hook_absent.startswith("absent: neither nvidia-cdi-hook nor nvidia-ctk")
    edits = files.container_edits()
    assert edits.hooks == []
    by_target = {m["containerPath"]: m["hostPath"] for m in edits.mounts}
    # driver root "/": host paths are the paths themselves
    assert by_target[f"{LIBDIR}/libcuda.so.1"] == f"{LIBDIR}/libcuda.so.{VERSION}"
    assert files.annotations() == {ANNOTATION_HOOK: files.hook_absent}


def test_nvidia_ctk_alone_gives_hook_subcommands(tmp_path, lib):
    made = make_driver_root(tmp_path / "r", lib, hook=False)
    made["socket"].close()
    ctk = tmp_path / "r/usr/bin/nvidia-ctk"
    ctk.write_text("#!/bin/sh\n")
    ctk.chmod(0o755)
    hooks = discover("/", tmp_path / "r").container_edits().hooks
    assert [h["args"][:3] for h in hooks] == [["nvidia-ctk", "hook", "create-symlinks"], ["nvidia-ctk", "hook", "update-ldcache"]]


def test_root_without_cache_falls_back_to_library_folders(root):
    mount, _ = root
    (mount / "etc/ld.so.cache").unlink(missing_ok=True)
    files = discover("/", mount)
    assert {Path(p).name for _, p in files.libraries} == {f"{n}.so.{VERSION}" for n in ("libnvidia-ml",) + OTHER_LIBS}


def test_missing_driver_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(NvmlLibraryNotFound) as err:
        discover("/", tmp_path / "empty")
    assert "\n" not in str(err.value) and "libnvidia-ml.so.1 not found under the driver root" in str(err.value)
