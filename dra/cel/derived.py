"""1.37 derived attributes (DRADerivedAttributes): a per-device value computed by CEL.

A request's ``derivedAttributes: [{name, expression}]`` gives each candidate device an extra
attribute that only the claim's *constraints* see (``matchAttribute``/``distinctAttribute``
look a derived name up before the device's own attributes); selectors do not. Upstream
(``cel.Cache.GetOrCompileDerivedAttribute`` and ``EvaluateDerivedAttribute``):

* compiled in the stored-expressions environment with the selector cost limit, and the
  result type must be a scalar (bool, int, string, semver, or dyn) or a list of one;
* the value becomes a DeviceAttribute: a scalar field, or a typed list whose type is that
  of its first element (an empty list is an empty ``strings`` list); other values are errors.

:func:`compile_derived` and :func:`derived_attribute` are that pair; errors are
:class:`CelCompileError` and :class:`CelRuntimeError`.
"""

from __future__ import annotations

from typing import Any

from dra.cel.device import CelDevice
from dra.cel.errors import CelRuntimeError
from dra.cel.selector import Selector
from dra.cel.semver import Semver
from dra.cel.values import UInt, type_name


class DerivedValue:
    """A DeviceAttribute look-alike (the fields the allocator's constraints read)."""

    __slots__ = ("int_", "bool_", "string", "version", "ints", "bools", "strings", "versions")

    def __init__(self, **fields: Any) -> None:
        for name in self.__slots__:
            setattr(self, name, fields.get(name))

    def __repr__(self) -> str:
        set_fields = {n: getattr(self, n) for n in self.__slots__ if getattr(self, n) is not None}
        return f"DerivedValue({set_fields})"


_CACHE: dict[tuple[str, Any], Any] = {}


def compile_derived(expression: str, version: Any = None) -> Selector:
    """Compile (cached per expression and environment) a derived-attribute expression."""
    key = (expression, _version_key(version))
    hit = _CACHE.get(key)
    if hit is None:
        if len(_CACHE) > 4096:
            _CACHE.clear()
        hit = _CACHE[key] = Selector(expression, "stored", True, derived=True, version=version)
    return hit


def _version_key(version: Any) -> Any:
    if version is None or isinstance(version, str):
        return version
    return (version.minor, version.enabled("DRAConsumableCapacity"), version.enabled("DRAListTypeAttributes"))


def _kind(value: Any) -> str | None:
    if value is True or value is False:
        return "bool"
    if isinstance(value, int) and not isinstance(value, UInt):
        return "int"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Semver):
        return "version"
    return None


_SCALAR_FIELD = {"bool": "bool_", "int": "int_", "string": "string", "version": "version"}
_LIST_FIELD = {"bool": "bools", "int": "ints", "string": "strings", "version": "versions"}


def derived_attribute(selector: Selector, device: CelDevice) -> DerivedValue:
    """Evaluate on ``device`` and convert as upstream ``valToDeviceAttribute`` does."""
    value = selector.evaluate(device)
    kind = _kind(value)
    if kind is not None:
        return DerivedValue(**{_SCALAR_FIELD[kind]: str(value) if kind == "version" else value})
    if isinstance(value, (list, tuple)):
        if not value:
            return DerivedValue(strings=[])
        kind = _kind(value[0])
        if kind is None:
            raise CelRuntimeError(f"unsupported list element type: {type_name(value[0])}")
        out = []
        for i, elem in enumerate(value):
            if _kind(elem) != kind:
                raise CelRuntimeError(f"expected list element at index {i} to be {kind}, got {type_name(elem)}")
            out.append(str(elem) if kind == "version" else elem)
        return DerivedValue(**{_LIST_FIELD[kind]: out})
    raise CelRuntimeError(f"unsupported CEL return type: {type_name(value)}")
