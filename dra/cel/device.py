"""The ``device`` variable of DRA selectors, built once per device.

Kubernetes exposes a device to CEL as ``kubernetes.DRADevice`` with ``driver``, ``attributes``,
``capacity`` and (since 1.34) ``allowMultipleAllocations``. List-typed attributes (1.36+,
``ints``/``bools``/``strings``/``versions``) are CEL lists (versions as semvers). Attribute and capacity names are
split into domain and identifier: ``"model"`` of driver ``gpu.nvidia.com`` becomes
``device.attributes["gpu.nvidia.com"].model``; ``"resource.kubernetes.io/pcieRoot"`` becomes
``device.attributes["resource.kubernetes.io"].pcieRoot``.

Looking up a domain the device does not have gives an empty map (so ``"x" in
device.attributes["other"]`` is simply false); looking up a missing identifier in a domain is
the evaluation error ``no such key: <id>``. :class:`DomainMap` implements the first rule
with ``__missing__``; plain dict lookups give the second.

Conversion problems that Kubernetes reports while building its activation (a version that is
not semver, an attribute without a value) make *every* evaluation on that device fail, so
they are recorded in :attr:`CelDevice.error` and raised by the selector.
"""

from __future__ import annotations

from typing import Any, Mapping

from dra.api.quantity import Quantity
from dra.cel.semver import Semver, SemverError

_EMPTY: dict[str, Any] = {}


class DomainMap(dict):
    """map(string -> map(string -> V)) where an unknown domain reads as an empty map."""

    __slots__ = ()

    def __missing__(self, key: Any) -> dict:
        if type(key) is not str:
            raise KeyError(key)
        return _EMPTY


class CelDevice(dict):
    """A device as CEL sees it: a read-only mapping with the DRADevice fields.

    Build it once per device (per ResourceSlice generation) and evaluate many selectors on it.
    """

    __slots__ = ("error", "list_error")

    cel_type_name = "kubernetes.DRADevice"

    def __init__(self, fields: Mapping[str, Any], error: str | None = None, list_error: str | None = None) -> None:
        super().__init__(fields)
        self.error = error
        # what an environment without list attributes (before 1.36, or 1.36 with the gate off)
        # reports for this device: every evaluation fails on its first list attribute
        self.list_error = list_error

    @classmethod
    def from_parts(
        cls,
        driver: str,
        attributes: Mapping[str, Any] | None = None,
        capacity: Mapping[str, Any] | None = None,
        allow_multiple_allocations: bool | None = None,
    ) -> "CelDevice":
        """Build from a driver name, DeviceAttribute values and capacity Quantities.

        ``attributes`` values may be ``dra.api.DeviceAttribute`` objects (anything with a
        ``.value`` and optional ``.version``) or plain Python values; ``capacity`` values may be
        Quantity, DeviceCapacity (``.value``) or quantity strings.
        """
        error: str | None = None
        list_error: str | None = None
        attr_domains: DomainMap = DomainMap()
        for name, attribute in (attributes or {}).items():
            if list_error is None and _is_list_attribute(attribute):
                list_error = f"attribute {name}: unsupported attribute value"
            try:
                value = _attribute_value(attribute)
            except ValueError as ex:
                # Kubernetes fails every evaluation on such a device; keep the first reason.
                if error is None:
                    error = f"attribute {name}: {ex}" if "unsupported" in str(ex) else str(ex)
                continue
            domain, ident = split_name(name, driver)
            attr_domains.setdefault(domain, {})[ident] = value
        cap_domains: DomainMap = DomainMap()
        for name, cap in (capacity or {}).items():
            domain, ident = split_name(name, driver)
            cap_domains.setdefault(domain, {})[ident] = _capacity_value(cap)
        return cls(
            {
                "driver": driver,
                "attributes": attr_domains,
                "capacity": cap_domains,
                "allowMultipleAllocations": bool(allow_multiple_allocations),
            },
            error,
            list_error,
        )

    @classmethod
    def from_device(cls, driver: str, device: Any) -> "CelDevice":
        """Build from a ``dra.api.Device`` of a ResourceSlice published by ``driver``."""
        return cls.from_parts(
            driver,
            getattr(device, "attributes", None),
            getattr(device, "capacity", None),
            getattr(device, "allow_multiple_allocations", None),
        )

    @property
    def driver(self) -> str:
        return self["driver"]


def split_name(name: str, driver: str) -> tuple[str, str]:
    """QualifiedName -> (domain, identifier); a bare name belongs to the driver's domain."""
    domain, sep, ident = name.partition("/")
    if not sep:
        return driver, name
    return domain, ident


def _is_list_attribute(attribute: Any) -> bool:
    if isinstance(attribute, list):
        return True
    if isinstance(attribute, Mapping):
        return any(attribute.get(k) is not None for k in ("ints", "bools", "strings", "versions"))
    return any(getattr(attribute, k, None) is not None for k in ("ints", "bools", "strings", "versions"))


def _semver(text: str) -> Semver:
    try:
        return Semver(text)
    except SemverError as ex:
        raise ValueError(f"parse semantic version: {ex}") from None


def _attribute_value(attribute: Any) -> Any:
    # Lists first, then scalars: the order of upstream's getAttributeValue.
    if attribute is None:
        raise ValueError("unsupported attribute value")
    if isinstance(attribute, (bool, int, str, Semver)):
        return attribute
    if isinstance(attribute, list):
        return list(attribute)
    get = attribute.get if isinstance(attribute, Mapping) else (lambda name: getattr(attribute, name, None))
    for field in ("ints", "bools", "strings"):
        values = get(field)
        if values is not None:
            return list(values)
    versions = get("versions")
    if versions is not None:
        return [_semver(x) for x in versions]
    if isinstance(attribute, Mapping):
        fields: tuple[str, ...] = ("int", "bool", "string")
    else:
        fields = ("int_", "bool_", "string")
    for field in fields:
        value = get(field)
        if value is not None:
            return value
    version = get("version")
    if version is not None:
        return _semver(version)
    raise ValueError("unsupported attribute value")


def _capacity_value(cap: Any) -> Quantity:
    if isinstance(cap, Quantity):
        return cap
    if isinstance(cap, str):
        return Quantity(cap)
    if isinstance(cap, Mapping):
        value = cap.get("value")
        return value if isinstance(value, Quantity) else Quantity(str(value))
    value = getattr(cap, "value", None)
    if isinstance(value, Quantity):
        return value
    return Quantity(str(value))
