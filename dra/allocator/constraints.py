"""Claim constraints: ``matchAttribute`` and ``distinctAttribute``.

A constraint applies to a device when its ``requests`` list is empty, names the request,
or (for a sub-request) names ``<request>/<sub-request>``. The attribute is looked up by
its fully qualified name, or, when the domain is the device's driver, by the bare name.

* matchAttribute: every device must carry the attribute with the same type and value as
  the first one (versions compared as exact strings, like upstream).
* distinctAttribute: every device must carry it, and no two values may be equal. Upstream
  up to 1.36 stores the values per *request name* (the parent name for sub-requests), so
  two devices of one request overwrite each other's entry; that quirk is kept. 1.37 keeps
  one value per device (``per_device``, k/k #140600). 1.34 compares the values' *pointers*
  (``identity``): only the same device's attribute counts as a duplicate.

With ListTypeAttributes (1.36+ experimental; ``list_mode``) both work on sets: a scalar is
a one-element set, a list attribute (``ints``/``bools``/``strings``/``versions``) the set
of its values. matchAttribute keeps the running intersection (non-empty, same type);
distinctAttribute requires every device's set to be disjoint from every other's.

With 1.37 derived attributes (``derived`` in :meth:`Constraint.add`) the search passes the
value a request's ``derivedAttributes`` expression gave for the device; it shadows the
device's own attribute of that name for this request only.

Constraints are monotonic, which lets the search stop as soon as one refuses a device.
"""

from __future__ import annotations

from typing import Any

from dra.allocator.model import DeviceInfo


def lookup_attribute(device: DeviceInfo, name: str) -> Any | None:
    attrs = device.attributes
    attr = attrs.get(name)
    if attr is not None:
        return attr
    slash = name.find("/")
    if slash < 0 or name[:slash] != device.slice.driver:
        return None
    return attrs.get(name[slash + 1 :])


def attribute_value(attr: Any) -> tuple[str, Any] | None:
    """(type, value) of a DeviceAttribute; None when no value is set."""
    for kind, field in (("string", "string"), ("int", "int_"), ("bool", "bool_"), ("version", "version")):
        v = getattr(attr, field, None)
        if v is not None:
            return (kind, v)
    return None


_MISSING = ("missing", None)

_LIST_FIELDS = (("int", "ints"), ("bool", "bools"), ("string", "strings"), ("version", "versions"))


def attribute_set(attr: Any) -> tuple[str, frozenset[Any]] | None:
    """(type, set of values) as upstream ``attributeAsSet``: a non-empty list wins, then the scalar."""
    for kind, field in _LIST_FIELDS:
        values = getattr(attr, field, None)
        if values:
            return (kind, frozenset(values))
    value = attribute_value(attr)
    if value is None:
        return None
    return (value[0], frozenset((value[1],)))


def cached_set(device: DeviceInfo, name: str) -> Any:
    """``attribute_set`` of the attribute, cached; ``_MISSING`` if the device lacks it."""
    key = "set:" + name
    hit = device.attr_cache.get(key)
    if hit is None:
        attr = lookup_attribute(device, name)
        hit = _MISSING if attr is None else (attribute_set(attr) or ("unset", frozenset()))
        device.attr_cache[key] = hit
    return hit


def cached_value(device: DeviceInfo, name: str) -> tuple[str, Any] | None:
    """(type, value) of the attribute as a constraint sees it; ``_MISSING`` if absent."""
    hit = device.attr_cache.get(name)
    if hit is None:
        attr = lookup_attribute(device, name)
        hit = _MISSING if attr is None else attribute_value(attr)
        if hit is None:  # present but no value set
            hit = ("unset", None)
        device.attr_cache[name] = hit
    return hit


def _derived_value(attr: Any) -> tuple[str, Any]:
    value = attribute_value(attr)
    return ("unset", None) if value is None else value


def _derived_set(attr: Any) -> Any:
    return attribute_set(attr) or ("unset", frozenset())


def _unknown(value: tuple[str, Any]) -> bool:
    return value[0] == "unset"


class Constraint:
    """Common part: which requests the constraint covers."""

    kind = ""

    def __init__(self, attribute: str, requests: list[str] | None) -> None:
        self.attribute = attribute
        self.request_names = frozenset(requests or ())

    def applies(self, request: str, sub_request: str | None) -> bool:
        if not self.request_names:
            return True
        if request in self.request_names:
            return True
        return sub_request is not None and f"{request}/{sub_request}" in self.request_names

    def add(self, request: str, sub_request: str | None, device: DeviceInfo, derived: Any = None) -> bool:
        """Take ``device`` if it keeps the constraint; ``derived``: its derived attribute value."""
        raise NotImplementedError

    def remove(self, request: str, sub_request: str | None, device: DeviceInfo) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        scope = f" across requests {', '.join(sorted(self.request_names))}" if self.request_names else ""
        return f"{self.kind} {self.attribute}{scope}"


class MatchAttribute(Constraint):
    kind = "matchAttribute"

    def __init__(self, attribute: str, requests: list[str] | None) -> None:
        super().__init__(attribute, requests)
        self.value: tuple[str, Any] | None = None
        self.count = 0
        self.list_mode = False
        self.sets: list[tuple[str, frozenset[Any]]] = []

    def add(self, request: str, sub_request: str | None, device: DeviceInfo, derived: Any = None) -> bool:
        if not self.applies(request, sub_request):
            return True
        if self.list_mode:
            found = cached_set(device, self.attribute) if derived is None else _derived_set(derived)
            if found is _MISSING or found[0] == "unset":
                return False
            if self.sets:
                kind, current = self.sets[-1]
                if kind != found[0] or not (current & found[1]):
                    return False
                found = (kind, current & found[1])
            self.sets.append(found)
            self.count += 1
            return True
        value = cached_value(device, self.attribute) if derived is None else _derived_value(derived)
        if value is _MISSING:
            return False
        if self.count == 0:
            self.value = value
            self.count = 1
            return True
        if _unknown(value) or value != self.value:
            return False
        self.count += 1
        return True

    def remove(self, request: str, sub_request: str | None, device: DeviceInfo) -> None:
        if self.applies(request, sub_request):
            self.count -= 1
            if self.list_mode and self.sets:
                self.sets.pop()


class DistinctAttribute(Constraint):
    kind = "distinctAttribute"

    def __init__(self, attribute: str, requests: list[str] | None) -> None:
        super().__init__(attribute, requests)
        self.values: dict[str, tuple[str, Any] | None] = {}
        self.per_device = False
        self.identity = False
        self.list_mode = False
        self.sets: list[tuple[str, frozenset[Any]]] = []
        self.stack: list[tuple[str, Any] | None] = []
        self.devices: dict[str, int] = {}

    def add(self, request: str, sub_request: str | None, device: DeviceInfo, derived: Any = None) -> bool:
        if not self.applies(request, sub_request):
            return True
        value = cached_value(device, self.attribute) if derived is None else _derived_value(derived)
        if value is _MISSING:
            return False
        if self.list_mode:
            found = cached_set(device, self.attribute) if derived is None else _derived_set(derived)
            if found[0] == "unset":
                return False
            if any(kind == found[0] and (values & found[1]) for kind, values in self.sets):
                return False
            self.sets.append(found)
            return True
        if self.per_device:
            if self.stack and (_unknown(value) or any(v == value for v in self.stack)):
                return False
            self.stack.append(value)
            return True
        if self.identity:
            if self.values and (_unknown(value) or any(
                    self.devices.get(r) == device.index and v is not None and v[0] == value[0]
                    for r, v in self.values.items())):
                return False
            self.values[request] = value
            self.devices[request] = device.index
            return True
        if self.values:
            if _unknown(value):
                return False
            if any(v == value for v in self.values.values()):
                return False
        self.values[request] = value
        return True

    def remove(self, request: str, sub_request: str | None, device: DeviceInfo) -> None:
        if self.applies(request, sub_request):
            if self.list_mode:
                if self.sets:
                    self.sets.pop()
                return
            if self.per_device:
                if self.stack:
                    self.stack.pop()
                return
            self.values.pop(request, None)
