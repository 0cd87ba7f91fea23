"""Opaque device configuration (``resource.nvidia.com/v1beta1``): models, decoding, selection.

Users attach these to a claim (``spec.devices.config[].opaque``) or a DeviceClass; the
scheduler copies them into ``status.allocation.devices.config`` with their source. For each
allocated device we pick the configuration that applies to its request: class configs first,
then claim configs, in order, the last matching entry winning (an entry with no ``requests``
matches every request). Decoding is strict: unknown fields, wrong types and wrong kinds are
errors naming the entry and field, because a typo silently ignored (``interval: shrot``)
would give a user a GPU configured differently from what they asked for.

The group and kinds are NVIDIA's (``GpuConfig``, ``MigDeviceConfig``) so that claims written
for NVIDIA's driver work unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Sequence, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dra.api import Quantity
from dra.errors import UserError

API_VERSION = "resource.nvidia.com/v1beta1"
MIN_PINNED_MEMORY = 1 << 20  # 1Mi, as NVIDIA's driver requires


class ConfigError(UserError):
    """An opaque configuration that cannot be decoded or does not fit the device."""

    error_type = "config"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, frozen=True)


def _quantity(value: Any, field: str) -> Quantity:
    if isinstance(value, Quantity):
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"{field}: must be a quantity string such as \"1Gi\"")
    try:
        return Quantity(str(value))
    except UserError as err:
        raise ValueError(str(err)) from None


class TimeSlicingConfig(_Strict):
    # Default|Short|Medium|Long map to the driver's time-slice levels 0..3.
    interval: Literal["Default", "Short", "Medium", "Long"] = "Default"


class MpsConfig(_Strict):
    default_active_thread_percentage: int | None = Field(
        default=None, alias="defaultActiveThreadPercentage", ge=0, le=100
    )
    default_pinned_device_memory_limit: Any = Field(default=None, alias="defaultPinnedDeviceMemoryLimit")
    default_per_device_pinned_memory_limit: dict[str, Any] | None = Field(
        default=None, alias="defaultPerDevicePinnedMemoryLimit"
    )

    @field_validator("default_pinned_device_memory_limit")
    @classmethod
    def _check_default(cls, value: Any) -> Quantity | None:
        if value is None:
            return None
        return _check_pinned(_quantity(value, "defaultPinnedDeviceMemoryLimit"))

    @field_validator("default_per_device_pinned_memory_limit")
    @classmethod
    def _check_per_device(cls, value: dict[str, Any] | None) -> dict[str, Quantity] | None:
        if value is None:
            return None
        return {k: _check_pinned(_quantity(v, f"[{k!r}]")) for k, v in value.items()}

    def pinned_limit_for(self, uuid: str, index: int | None) -> Quantity | None:
        per_device = self.default_per_device_pinned_memory_limit or {}
        for key in (uuid, str(index) if index is not None else None):
            if key is not None and key in per_device:
                return per_device[key]
        return self.default_pinned_device_memory_limit


def _check_pinned(q: Quantity) -> Quantity:
    if q.value() < MIN_PINNED_MEMORY:
        raise ValueError(f"pinned memory limit {q} is below the minimum of 1Mi")
    return q


class GpuSharing(_Strict):
    strategy: Literal["TimeSlicing", "MPS"]
    time_slicing_config: TimeSlicingConfig | None = Field(default=None, alias="timeSlicingConfig")
    mps_config: MpsConfig | None = Field(default=None, alias="mpsConfig")

    @model_validator(mode="after")
    def _settings_match_strategy(self) -> "GpuSharing":
        if self.strategy != "TimeSlicing" and self.time_slicing_config is not None:
            raise ValueError("timeSlicingConfig is only allowed with strategy TimeSlicing")
        if self.strategy != "MPS" and self.mps_config is not None:
            raise ValueError("mpsConfig is only allowed with strategy MPS")
        return self


class MigSharing(_Strict):
    # A MIG device has no time-slice setting of its own; TimeSlicing just allows sharing.
    strategy: Literal["TimeSlicing", "MPS"]
    mps_config: MpsConfig | None = Field(default=None, alias="mpsConfig")

    @model_validator(mode="after")
    def _settings_match_strategy(self) -> "MigSharing":
        if self.strategy != "MPS" and self.mps_config is not None:
            raise ValueError("mpsConfig is only allowed with strategy MPS")
        return self


class GpuConfig(_Strict):
    api_version: Literal["resource.nvidia.com/v1beta1"] = Field(alias="apiVersion")
    kind: Literal["GpuConfig"]
    sharing: GpuSharing | None = None

    device_type: ClassVar[str] = "gpu"


class MigDeviceConfig(_Strict):
    api_version: Literal["resource.nvidia.com/v1beta1"] = Field(alias="apiVersion")
    kind: Literal["MigDeviceConfig"]
    sharing: MigSharing | None = None

    device_type: ClassVar[str] = "mig"


DeviceConfig = Union[GpuConfig, MigDeviceConfig]
_KINDS: dict[str, type[BaseModel]] = {"GpuConfig": GpuConfig, "MigDeviceConfig": MigDeviceConfig}


def default_config(device_type: str) -> DeviceConfig:
    """The configuration of a device no config entry applies to: exclusive, no sharing."""
    if device_type == "mig":
        return MigDeviceConfig(apiVersion=API_VERSION, kind="MigDeviceConfig")
    return GpuConfig(apiVersion=API_VERSION, kind="GpuConfig")


def _format_loc(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def decode(parameters: Any, place: str) -> DeviceConfig:
    """Strictly decode one opaque ``parameters`` object; errors name ``place`` and the field."""
    if not isinstance(parameters, dict):
        raise ConfigError(f"{place}: parameters must be an object, got {type(parameters).__name__}")
    api_version = parameters.get("apiVersion")
    if api_version != API_VERSION:
        raise ConfigError(f"{place}: unsupported apiVersion {api_version!r} (expected {API_VERSION!r})")
    kind = parameters.get("kind")
    model = _KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise ConfigError(
            f"{place}: unsupported kind {kind!r} (expected one of {', '.join(sorted(_KINDS))})"
        )
    try:
        return model.model_validate(parameters)  # type: ignore[return-value]
    except ValidationError as err:
        first = err.errors()[0]
        loc = _format_loc(first["loc"])
        msg = first["msg"]
        if first["type"] == "extra_forbidden":
            msg = "unknown field"
        raise ConfigError(f"{place}: {kind}: {loc + ': ' if loc else ''}{msg}") from None


@dataclass(frozen=True)
class ConfigEntry:
    """One opaque configuration for this driver, in precedence order, with where it came from."""

    requests: tuple[str, ...]
    config: DeviceConfig
    place: str
    index: int  # position in precedence order; the identity used to group devices


def select_entries(allocation_configs: Sequence[Any] | None, driver: str, claim: str) -> list[ConfigEntry]:
    """Decode this driver's opaque configs of an allocation, class entries before claim ones.

    ``allocation_configs`` are ``DeviceAllocationConfiguration`` objects (source, requests,
    opaque). Other drivers' entries are skipped; a non-opaque entry is an error, as upstream.
    """
    ordered: list[tuple[int, Any]] = []
    for source in ("FromClass", "FromClaim"):
        ordered.extend((i, c) for i, c in enumerate(allocation_configs or ()) if c.source == source)
    entries: list[ConfigEntry] = []
    for position, (i, cfg) in enumerate(ordered):
        place = f"claim {claim}: status.allocation.devices.config[{i}] ({cfg.source})"
        if cfg.opaque is None:
            raise ConfigError(f"{place}: only opaque configuration is supported")
        if cfg.opaque.driver != driver:
            continue
        config = decode(cfg.opaque.parameters, place + ".opaque.parameters")
        entries.append(ConfigEntry(tuple(cfg.requests or ()), config, place, position))
    return entries


def config_for(entries: Sequence[ConfigEntry], request: str) -> ConfigEntry | None:
    """The last entry that applies to ``request`` (``req`` also matches ``req/subrequest``)."""
    parent = request.split("/", 1)[0]
    chosen = None
    for entry in entries:
        if not entry.requests or request in entry.requests or parent in entry.requests:
            chosen = entry
    return chosen


def check_fits(config: DeviceConfig, device_type: str, device: str, place: str) -> None:
    if getattr(config, "device_type") != device_type:
        raise ConfigError(f"{place}: cannot apply {config.kind} to device {device} (type {device_type})")
