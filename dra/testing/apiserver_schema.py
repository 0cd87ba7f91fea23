"""OpenAPI schema checks for the stand-in API server (:mod:`dra.testing.apiserver`).

The real kube-apiserver decodes a request body against its OpenAPI types: fields it does not
know are dropped (with a ``Warning`` header) or, with ``fieldValidation=Strict``, rejected
with 400; values of the wrong type or missing required fields are rejected with 422 Invalid.
This module gives the stand-in the same two answers using the JSON schemas that the
``kubernetes-validate`` package ships (generated from the Kubernetes OpenAPI documents).

Version choice: ``kubernetes-validate`` 1.37 bundles schemas for Kubernetes 1.25 .. 1.37.
``resource.k8s.io/v1`` first appears in 1.34; the stand-in defaults to **1.37** (the project's
default minor, ``dra.versions.DEFAULT_VERSION``) and accepts "1.34" to "1.36". The package's own ``validate()`` reloads the
1.5 MB definitions file on every call, so validators are built once per (version, kind) here,
from the same files, and reused.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# Needed versions: resource.k8s.io/v1 exists from 1.34 on.
SUPPORTED_VERSIONS = ("1.34", "1.35", "1.36", "1.37")
DEFAULT_VERSION = "1.37"


@dataclass(frozen=True)
class SchemaProblem:
    """One schema violation: a Kubernetes-style field path and a message."""

    field: str
    message: str
    unknown_field: bool = False  # True for "field not declared in the schema"
    location: tuple[str | int, ...] = ()  # the same path as keys/indexes into the object

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def _field_path(parts: Any) -> str:
    """Render a jsonschema path deque as ``spec.devices[0].attributes.x``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif any(c in str(part) for c in "./") and out:
            out += f"[{part}]"  # map keys such as resource.kubernetes.io/pciBusID
        else:
            out += ("." if out else "") + str(part)
    return out


_lock = threading.Lock()


@lru_cache(maxsize=None)
def _definitions(version: str) -> Any:
    from kubernetes_validate import utils  # test-time dependency, imported lazily

    schema_dir = f"v{version}.0-local-strict"
    return utils.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", version)


@lru_cache(maxsize=None)
def _validator(version: str, kind: str, api_version: str) -> Any:
    """Build (once) a Draft 2020-12 validator for one kind, sharing the definitions resource."""
    import jsonschema
    from kubernetes_validate import utils
    from referencing import Registry, Resource

    if version not in SUPPORTED_VERSIONS:
        raise ValueError(f"unsupported Kubernetes version {version!r}; use one of {SUPPORTED_VERSIONS}")
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema_dir = f"v{version}.0-local-strict"
    try:
        schema = utils.schema_contents(
            f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{group_version}.json", version
        )
    except FileNotFoundError:
        return None
    registry: Registry = Resource.from_contents(schema) @ Registry()
    registry = Resource.from_contents(_definitions(version)) @ registry
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def _fast_errors(obj: dict[str, Any], version: str) -> list[str] | None:
    """The project's compiled schema checker (:mod:`dra.testing.schema`), None if unavailable.

    It is an order of magnitude faster than the generic ``jsonschema`` validator on slices with
    many devices, and is built from the same bundled schemas; it answers "valid or not"
    here, and the structured details come from ``jsonschema`` only for invalid bodies.
    """
    try:
        from dra.testing.schema import schema_errors
    except ImportError:
        return None
    return schema_errors(obj, version)


def schema_problems(obj: dict[str, Any], version: str = DEFAULT_VERSION) -> list[SchemaProblem]:
    """All schema violations of ``obj`` (a full object with kind/apiVersion), in document order.

    Unknown fields (``additionalProperties`` in the strict schemas) are reported one per field
    with ``unknown_field=True`` so that the caller can drop or reject them the way the real
    server does. An unknown kind yields no problems (the server decides routing, not this).
    """
    if _fast_errors(obj, version) == []:
        return []
    with _lock:  # lru_cache construction is not re-entrant-safe across threads
        validator = _validator(version, str(obj.get("kind", "")), str(obj.get("apiVersion", "")))
    if validator is None:
        return []
    problems: list[SchemaProblem] = []
    for error in validator.iter_errors(obj):
        path = _field_path(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            declared = set(error.schema.get("properties", {}))
            for key in sorted(set(error.instance) - declared):
                field = f"{path}.{key}" if path else key
                location = (*error.absolute_path, key)
                problems.append(SchemaProblem(field, f'unknown field "{field}"', True, location))
            continue
        if error.validator == "required":
            match = re.match(r"'(.+)' is a required property", error.message)
            name = match.group(1) if match else "?"
            field = f"{path}.{name}" if path else name
            location = (*error.absolute_path, name)
            problems.append(SchemaProblem(field, "Required value", False, location))
            continue
        problems.append(SchemaProblem(path, _short_message(error), False, tuple(error.absolute_path)))
    problems.sort(key=lambda p: p.field)
    return problems


def _short_message(error: Any) -> str:
    """jsonschema messages embed the whole offending value; keep them one short line."""
    if error.validator == "type":
        expected = error.validator_value
        if isinstance(expected, list):
            expected = " or ".join(t for t in expected if t != "null")
        return f"Invalid value: {_brief(error.instance)}: must be of type {expected}"
    if error.validator == "enum":
        allowed = ", ".join(repr(v) for v in error.validator_value)
        return f"Unsupported value: {_brief(error.instance)}: supported values: {allowed}"
    return f"Invalid value: {_brief(error.instance)}: {error.validator} {error.validator_value!r}"


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def drop_unknown_fields(obj: dict[str, Any], problems: list[SchemaProblem]) -> None:
    """Remove the fields that ``problems`` flagged as unknown (the server's default "Warn")."""
    for problem in problems:
        if not problem.unknown_field or not problem.location:
            continue
        parent: Any = obj
        for step in problem.location[:-1]:
            try:
                parent = parent[step]
            except (KeyError, IndexError, TypeError):
                parent = None
                break
        if isinstance(parent, dict):
            parent.pop(problem.location[-1], None)
