"""Shared base of all API models: strict Kubernetes JSON in, Kubernetes JSON out.

Every model is a pydantic v2 model whose Python attribute names are the snake_case form of
the upstream JSON names (the JSON names are the aliases).  ``from_dict`` reads Kubernetes
JSON strictly -- unknown fields and wrong JSON types are rejected like the API server's strict
decoder does -- but checks no API *rules*: an empty selector or an unknown allocation mode
loads fine and is reported by :mod:`dra.api.validation`.  ``to_dict`` writes Kubernetes JSON
(camelCase, unset fields left out, quantities as their canonical strings).
"""

from __future__ import annotations

import datetime as _dt
import json
import types
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError
from pydantic.alias_generators import to_camel

from dra.api.errors import ApiError

__all__ = ["K8sModel", "TopLevelModel", "Int64", "Time", "format_time"]


def format_time(value: _dt.datetime | _dt.date) -> str:
    """RFC 3339 the way Kubernetes writes ``metav1.Time`` (seconds, ``Z`` for UTC)."""
    if not isinstance(value, _dt.datetime):
        value = _dt.datetime(value.year, value.month, value.day, tzinfo=_dt.timezone.utc)
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    if value.utcoffset() == _dt.timedelta(0):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat(timespec="seconds")


def _time_from_yaml(value: Any) -> Any:
    # Unquoted timestamps in YAML arrive as datetime objects; the wire form is a string.
    if isinstance(value, (_dt.datetime, _dt.date)):
        return format_time(value)
    return value


Int64 = Annotated[int, Field(ge=-(1 << 63), le=(1 << 63) - 1)]
"""A JSON integer that must fit Go's int64."""

Time = Annotated[str, BeforeValidator(_time_from_yaml)]
"""``metav1.Time``: kept as its RFC 3339 text so that objects round-trip unchanged."""


class K8sModel(BaseModel):
    """Base of every API model (see the module docstring)."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        arbitrary_types_allowed=True,
    )

    @classmethod
    def from_dict(cls, data: Any, path: str = "") -> Any:
        """Read Kubernetes JSON (a dict) into this model; raise :class:`ApiError` naming the field."""
        if not isinstance(data, dict):
            where = f"{path}: " if path else ""
            raise ApiError(f"{where}expected an object ({cls.__name__}), got {_json_type(data)}")
        try:
            return cls.model_validate(data, strict=True, by_alias=True, by_name=False)
        except PydanticValidationError as exc:
            errors = exc.errors(include_url=False)
            loc = tuple(x for x in errors[0].get("loc", ()) if x != "[key]") if errors else ()
            raise ApiError(describe_validation_error(cls, exc, path), loc) from None

    def to_dict(self) -> dict[str, Any]:
        """Kubernetes JSON: camelCase names, unset (None) fields omitted."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class TopLevelModel(K8sModel):
    """A kind with ``apiVersion``/``kind`` (ResourceSlice, ResourceClaim, Node, ...)."""

    API_VERSION: ClassVar[str] = ""
    KIND: ClassVar[str] = ""

    @classmethod
    def from_dict(cls, data: Any, path: str = "") -> Any:
        if isinstance(data, dict):
            kind = data.get("kind")
            if kind is not None and kind != cls.KIND:
                where = f"{path}: " if path else ""
                raise ApiError(f'{where}kind: Invalid value: "{kind}": expected "{cls.KIND}"', ("kind",))
        return super().from_dict(data, path)


# -- pydantic error -> one line naming the field path ----------------------------------------


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _show(value: Any) -> str:
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
            continue
        if origin in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) == 1:
                tp = args[0]
                continue
        return tp


@lru_cache(maxsize=None)
def _fields_by_alias(cls: type[BaseModel]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, info in cls.model_fields.items():
        out[info.alias or name] = info.annotation
    return out


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def loc_to_path(cls: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """Render a pydantic ``loc`` as a Kubernetes field path (``spec.devices[2].attributes["x"]``)."""
    parts: list[str] = []
    tp: Any = cls
    for el in loc:
        if el == "[key]":
            continue
        tp = _unwrap(tp) if tp is not None else None
        origin = get_origin(tp)
        if _is_model(tp) and isinstance(el, str):
            parts.append(f".{el}")
            tp = _fields_by_alias(tp).get(el)
        elif origin is list or (isinstance(el, int) and origin is not dict):
            parts.append(f"[{el}]")
            tp = get_args(tp)[0] if origin is list else None
        elif origin is dict:
            parts.append(f'["{el}"]')
            tp = get_args(tp)[1]
        else:
            parts.append(f".{el}")
            tp = None
    return "".join(parts).lstrip(".")


_TYPE_WORDS = {
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "bool_type": "must be a boolean",
    "list_type": "must be an array",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "float_type": "must be a number",
    "greater_than_equal": "must fit in a 64-bit signed integer",
    "less_than_equal": "must fit in a 64-bit signed integer",
}


def _join(prefix: str, path: str) -> str:
    if not prefix:
        return path
    if not path:
        return prefix
    return f"{prefix}{path}" if path.startswith("[") else f"{prefix}.{path}"


def _describe_one(cls: type[BaseModel], err: dict[str, Any], prefix: str) -> str:
    loc = tuple(err.get("loc", ()))
    kind = err.get("type", "")
    if kind == "extra_forbidden" and loc:
        where = _join(prefix, loc_to_path(cls, loc[:-1]))
        msg = f'unknown field "{loc[-1]}"'
        return f"{where}: {msg}" if where else msg
    where = _join(prefix, loc_to_path(cls, loc))
    if kind == "missing":
        msg = "Required value"
    elif "[key]" in loc:
        msg = f"Invalid value: {_show(loc[-2] if len(loc) > 1 else None)}: map keys must be strings"
    elif kind in _TYPE_WORDS:
        msg = f"Invalid value: {_show(err.get('input'))}: {_TYPE_WORDS[kind]}"
    elif kind == "value_error":
        reason = str(err.get("ctx", {}).get("error", err.get("msg", "")))
        msg = f"Invalid value: {_show(err.get('input'))}: {reason}"
    else:
        msg = f"Invalid value: {_show(err.get('input'))}: {err.get('msg', kind)}"
    return f"{where}: {msg}" if where else msg


def describe_validation_error(
    cls: type[BaseModel], exc: PydanticValidationError, prefix: str = ""
) -> str:
    """One line for a pydantic error: the first problem, plus how many more there are."""
    errors = exc.errors(include_url=False)
    if not errors:
        return _join(prefix, "") or "invalid object"
    first = _describe_one(cls, errors[0], prefix)
    if len(errors) > 1:
        first += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return first
