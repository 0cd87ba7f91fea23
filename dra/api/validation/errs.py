"""Builders for upstream-worded field errors (``k8s.io/apimachinery/pkg/util/validation/field``).

Each helper returns a :class:`~dra.api.errors.FieldError` whose message reads like the API
server's: ``Required value``, ``Invalid value: "x": ...``, ``Too many: 129: must have at most
128 items``, ``Duplicate value: "x"``, ``Unsupported value: ...``, ``Too long: ...``,
``Forbidden: ...``.  Paths use ``.field``, ``[index]`` and ``["key"]`` segments.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from dra.api.errors import FieldError
from dra.api.quantity import Quantity


def child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def key(path: str, k: str) -> str:
    return f'{path}["{k}"]'


def show(value: Any) -> str:
    """Format a value the way field.Error does: strings quoted, scalars bare."""
    if value is None:
        return '"null"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Quantity):
        return json.dumps(str(value))
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    try:
        return json.dumps(value, default=str, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


def required(path: str, detail: str = "") -> FieldError:
    return FieldError(path, f"Required value: {detail}" if detail else "Required value")


def invalid(path: str, value: Any, detail: str) -> FieldError:
    return FieldError(path, f"Invalid value: {show(value)}: {detail}")


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError(path, f"Forbidden: {detail}")


def duplicate(path: str, value: Any) -> FieldError:
    return FieldError(path, f"Duplicate value: {show(value)}")


def not_supported(path: str, value: Any, supported: Iterable[str]) -> FieldError:
    values = ", ".join(json.dumps(s) for s in supported)
    return FieldError(path, f"Unsupported value: {show(value)}: supported values: {values}")


def too_many(path: str, actual: int, limit: int) -> FieldError:
    return FieldError(path, f"Too many: {actual}: must have at most {limit} items")


def too_long(path: str, limit: int) -> FieldError:
    unit = "byte" if limit == 1 else "bytes"
    return FieldError(path, f"Too long: may not be more than {limit} {unit}")


def not_found(path: str, value: Any) -> FieldError:
    return FieldError(path, f"Not found: {show(value)}")
