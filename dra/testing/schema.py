"""Check Kubernetes objects against the API's OpenAPI-derived JSON schema.

The schemas come from the ``kubernetes-validate`` package, which bundles the strict JSON
schemas (unknown fields rejected) generated from each Kubernetes release's OpenAPI
document. Version 1.37.0 of the package carries 1.25 through 1.37, so 1.34 and 1.35 are
checked against their own schemas; for a version the package lacks, the newest older
schema is used (as ``kubernetes-validate`` itself does) and :func:`schema_version` says
which one.

The schema is structural: field names, types, required fields, enums. The API server's
semantic rules (limits, name formats, cross-field rules) are :mod:`dra.api.validation`'s
job; tests use both.

Validators are built once per (schema version, kind, apiVersion) and cached, so checking
thousands of objects is cheap.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any, Mapping

__all__ = ["schema_errors", "schema_version", "available_versions"]


def _schema_root() -> Any:
    return resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")


@lru_cache(maxsize=1)
def available_versions() -> tuple[str, ...]:
    """Kubernetes minor versions with bundled schemas, oldest first (e.g. ``("1.25", ...)``)."""
    found = set()
    for entry in _schema_root().iterdir():
        m = re.match(r"^v(\d+)\.(\d+)\.\d+-local-strict$", entry.name)
        if m:
            found.add((int(m[1]), int(m[2])))
    return tuple(f"{a}.{b}" for a, b in sorted(found))


def schema_version(k8s_version: str) -> str:
    """The bundled schema version used for ``k8s_version`` (itself, or the newest older one)."""
    m = re.match(r"^v?(\d+)\.(\d+)", str(k8s_version))
    if not m:
        raise ValueError(f"not a Kubernetes version: {k8s_version!r}")
    wanted = (int(m[1]), int(m[2]))
    usable = [v for v in available_versions() if tuple(map(int, v.split("."))) <= wanted]
    if not usable:
        raise ValueError(f"no bundled schema for Kubernetes {k8s_version} or older")
    return usable[-1]


@lru_cache(maxsize=None)
def _validator(version: str, kind: str, api_version: str) -> Any:
    import jsonschema
    from referencing import Registry, Resource

    folder = _schema_root().joinpath(f"v{version}.0-local-strict")
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema_file = folder.joinpath(f"{kind.lower()}-{group_version}.json")
    if not schema_file.is_file():
        return None
    schema = json.loads(schema_file.read_text())
    definitions = json.loads(folder.joinpath("_definitions.json").read_text())
    registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _path(parts: Any) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", str(part)):
            out += f".{part}" if out else str(part)
        else:
            out += f"[{json.dumps(part)}]"
    return out or "<root>"


def schema_errors(obj_dict: Mapping[str, Any], k8s_version: str) -> list[str]:
    """Every schema violation of ``obj_dict`` as ``"field.path: message"``; [] when valid."""
    if not isinstance(obj_dict, Mapping):
        return ["<root>: expected an object"]
    kind, api_version = obj_dict.get("kind"), obj_dict.get("apiVersion")
    if not isinstance(kind, str) or not isinstance(api_version, str):
        return ["<root>: kind and apiVersion are required to pick a schema"]
    version = schema_version(k8s_version)
    validator = _validator(version, kind, api_version)
    if validator is None:
        return [f"<root>: no schema for {kind} {api_version} in Kubernetes {version}"]
    errors = sorted(validator.iter_errors(dict(obj_dict)), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{_path(e.absolute_path)}: {e.message}" for e in errors]
