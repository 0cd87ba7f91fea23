"""Opaque config decoding (strict), precedence, and fit to device types."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from dra.plugin.config import (
    ConfigError,
    GpuConfig,
    MigDeviceConfig,
    check_fits,
    config_for,
    decode,
    default_config,
    select_entries,
)

V = "resource.nvidia.com/v1beta1"


def test_decode_full_gpu_config():
    cfg = decode({"apiVersion": V, "kind": "GpuConfig", "sharing": {"strategy": "MPS", "mpsConfig": {
        "defaultActiveThreadPercentage": 50, "defaultPinnedDeviceMemoryLimit": "2Gi",
        "defaultPerDevicePinnedMemoryLimit": {"0": "1Gi", "GPU-abc": 1048576}}}}, "here")
    assert isinstance(cfg, GpuConfig)
    mps = cfg.sharing.mps_config
    assert mps.default_active_thread_percentage == 50
    assert mps.pinned_limit_for("GPU-abc", 3).value() == 1 << 20
    assert mps.pinned_limit_for("GPU-x", 0).value() == 1 << 30
    assert mps.pinned_limit_for("GPU-x", 7).value() == 2 << 30
    ts = decode({"apiVersion": V, "kind": "GpuConfig", "sharing": {"strategy": "TimeSlicing"}}, "here")
    assert ts.sharing.time_slicing_config is None
    mig = decode({"apiVersion": V, "kind": "MigDeviceConfig", "sharing": {"strategy": "TimeSlicing"}}, "x")
    assert isinstance(mig, MigDeviceConfig)


@pytest.mark.parametrize("params, message", [
    ({"apiVersion": "v1", "kind": "GpuConfig"}, "unsupported apiVersion 'v1'"),
    ({"apiVersion": V, "kind": "VfioDeviceConfig"}, "unsupported kind 'VfioDeviceConfig'"),
    ({"apiVersion": V}, "unsupported kind None"),
    ({"apiVersion": V, "kind": "GpuConfig", "shareing": {}}, "GpuConfig: shareing: unknown field"),
    ({"apiVersion": V, "kind": "GpuConfig", "sharing": {"strategy": "Magic"}}, "sharing.strategy: Input should be 'TimeSlicing' or 'MPS'"),
    ({"apiVersion": V, "kind": "GpuConfig", "sharing": {"strategy": "TimeSlicing", "timeSlicingConfig": {"interval": "shrot"}}}, "sharing.timeSlicingConfig.interval"),
    ({"apiVersion": V, "kind": "GpuConfig", "sharing": {"strategy": "MPS", "timeSlicingConfig": {}}}, "timeSlicingConfig is only allowed with strategy TimeSlicing"),
    ({"apiVersion": V, "kind": "GpuConfig", "sharing": {"strategy": "MPS", "mpsConfig": {"defaultActiveThreadPercentage": 101}}}, "less than or equal to 100"),
    ({"apiVersion": V, "kind": "GpuConfig", "sharing": {"strategy": "MPS", "mpsConfig": {"defaultActiveThreadPercentage": "50"}}}, "valid integer"),
    ({"apiVersion": V, "kind": "GpuConfig", "sharing": {"strategy": "MPS", "mpsConfig": {"defaultPinnedDeviceMemoryLimit": "1Ki"}}}, "below the minimum of 1Mi"),
    ({"apiVersion": V, "kind": "GpuConfig", "sharing": {"strategy": "MPS", "mpsConfig": {"defaultPinnedDeviceMemoryLimit": "lots"}}}, "defaultPinnedDeviceMemoryLimit"),
    ({"apiVersion": V, "kind": "MigDeviceConfig", "sharing": {"strategy": "TimeSlicing", "timeSlicingConfig": {}}}, "timeSlicingConfig: unknown field"),
    ("not-an-object", "parameters must be an object"),
])
def test_strict_decoding_errors(params, message):
    with pytest.raises(ConfigError) as err:
        decode(params, "claim ns/c: config[0]")
    text = str(err.value)
    assert text.startswith("claim ns/c: config[0]") and message in text and "\n" not in text


def _cfg(source, requests, kind="GpuConfig", driver="gpu.nvidia.com", opaque=True):
    params = {"apiVersion": V, "kind": kind}
    return NS(source=source, requests=requests,
              opaque=NS(driver=driver, parameters=params) if opaque else None)


def test_precedence_class_then_claim_last_wins():
    configs = [
        _cfg("FromClaim", ["a"]),            # 0: claim, request a
        _cfg("FromClass", None),             # 1: class, all requests
        _cfg("FromClaim", None, driver="other.example.com"),
        _cfg("FromClaim", ["b"], kind="MigDeviceConfig"),  # 3
    ]
    entries = select_entries(configs, "gpu.nvidia.com", "ns/c")
    assert [e.place.split("config")[1] for e in entries] == ["[1] (FromClass)", "[0] (FromClaim)", "[3] (FromClaim)"]
    assert config_for(entries, "a").place.endswith("config[0] (FromClaim)")
    assert config_for(entries, "a/sub").place.endswith("config[0] (FromClaim)")
    assert config_for(entries, "b").config.kind == "MigDeviceConfig"
    assert config_for(entries, "c").place.endswith("config[1] (FromClass)")
    assert config_for([], "c") is None


def test_non_opaque_config_is_an_error():
    with pytest.raises(ConfigError, match="only opaque configuration is supported"):
        select_entries([_cfg("FromClaim", None, opaque=False)], "gpu.nvidia.com", "ns/c")


def test_type_fit_and_defaults():
    assert default_config("gpu").kind == "GpuConfig" and default_config("mig").kind == "MigDeviceConfig"
    check_fits(default_config("mig"), "mig", "gpu-0-mig-1g10gb-19-0", "p")
    with pytest.raises(ConfigError, match="cannot apply GpuConfig to device gpu-0-mig"):
        check_fits(default_config("gpu"), "mig", "gpu-0-mig-1g10gb-19-0", "p")
