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

The schemas use a small part of JSON Schema (``type``, ``properties``,
``additionalProperties``, ``required``, ``items``, ``enum``, ``oneOf``, ``$ref``; ``format``
is not asserted, as in ``jsonschema`` without a format checker). :func:`schema_errors`
compiles that subset into closures once per (schema version, kind, apiVersion): a large
dynamic-MIG slice is checked in milliseconds instead of the second the generic
``jsonschema`` validator takes. :func:`jsonschema_errors` runs the generic validator on the
same schema; the tests check that both agree.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any, Callable, Mapping

__all__ = ["schema_errors", "jsonschema_errors", "schema_version", "available_versions"]


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
def _schema_files(version: str, kind: str, api_version: str) -> tuple[Any, Any] | None:
    folder = _schema_root().joinpath(f"v{version}.0-local-strict")
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema_file = folder.joinpath(f"{kind.lower()}-{group_version}.json")
    if not schema_file.is_file():
        return None
    schema = json.loads(schema_file.read_text())
    definitions = json.loads(folder.joinpath("_definitions.json").read_text())
    return schema, definitions


@lru_cache(maxsize=None)
def _jsonschema_validator(version: str, kind: str, api_version: str) -> Any:
    import jsonschema
    from referencing import Registry, Resource

    files = _schema_files(version, kind, api_version)
    if files is None:
        return None
    schema, definitions = files
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


# -- compiled subset validator ---------------------------------------------------------------

Check = Callable[[Any, tuple, list], None]

_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "null": lambda v: v is None,
}


class _Compiler:
    def __init__(self, definitions: dict[str, Any]) -> None:
        self.definitions = definitions.get("$defs", {})
        self.compiled: dict[str, Check] = {}

    def ref(self, ref: str) -> Check:
        name = ref.rsplit("/", 1)[-1]
        if name not in self.compiled:
            holder: list[Check] = []
            self.compiled[name] = lambda v, p, e: holder[0](v, p, e)  # recursion-safe indirection
            holder.append(self.compile(self.definitions[name]))
            self.compiled[name] = holder[0]
        return self.compiled[name]

    def compile(self, node: dict[str, Any]) -> Check:  # noqa: C901 - one branch per keyword
        checks: list[Check] = []
        if "$ref" in node:
            checks.append(self.ref(node["$ref"]))
        if "type" in node:
            names = node["type"] if isinstance(node["type"], list) else [node["type"]]
            tests = [_TYPES[n] for n in names]
            shown = names[0] if len(names) == 1 else names

            def check_type(v: Any, p: tuple, e: list, tests=tests, shown=shown) -> None:
                if not any(t(v) for t in tests):
                    e.append((p, f"{json.dumps(v)} is not of type {shown!r}"))

            checks.append(check_type)
        if "enum" in node:
            allowed = node["enum"]

            def check_enum(v: Any, p: tuple, e: list, allowed=allowed) -> None:
                if v is not None and v not in allowed:
                    e.append((p, f"{json.dumps(v)} is not one of {allowed!r}"))

            checks.append(check_enum)
        props = {k: self.compile(v) for k, v in (node.get("properties") or {}).items()}
        extra = node.get("additionalProperties")
        extra_check = self.compile(extra) if isinstance(extra, dict) else None
        required = list(node.get("required") or [])
        if props or extra is not None or required:

            def check_object(v: Any, p: tuple, e: list, props=props, extra=extra,
                             extra_check=extra_check, required=required) -> None:
                if not isinstance(v, dict):
                    return
                for key in required:
                    if key not in v:
                        e.append((p, f"{key!r} is a required property"))
                unexpected = []
                for key, value in v.items():
                    sub = props.get(key)
                    if sub is not None:
                        sub(value, p + (key,), e)
                    elif extra is False:
                        unexpected.append(key)
                    elif extra_check is not None:
                        extra_check(value, p + (key,), e)
                if unexpected:
                    listed = ", ".join(repr(k) for k in unexpected)
                    verb = "was" if len(unexpected) == 1 else "were"
                    e.append((p, f"Additional properties are not allowed ({listed} {verb} unexpected)"))

            checks.append(check_object)
        if isinstance(node.get("items"), dict):
            item = self.compile(node["items"])

            def check_items(v: Any, p: tuple, e: list, item=item) -> None:
                if isinstance(v, list):
                    for i, x in enumerate(v):
                        item(x, p + (i,), e)

            checks.append(check_items)
        if "oneOf" in node:
            options = [self.compile(o) for o in node["oneOf"]]

            def check_one_of(v: Any, p: tuple, e: list, options=options) -> None:
                matched = 0
                for option in options:
                    errs: list = []
                    option(v, p, errs)
                    matched += not errs
                if matched != 1:
                    how = "is not valid under any" if matched == 0 else "is valid under each"
                    e.append((p, f"{json.dumps(v)} {how} of the given schemas"))

            checks.append(check_one_of)
        if len(checks) == 1:
            return checks[0]

        def check_all(v: Any, p: tuple, e: list, checks=checks) -> None:
            for c in checks:
                c(v, p, e)

        return check_all


@lru_cache(maxsize=None)
def _compiled(version: str, kind: str, api_version: str) -> Check | None:
    files = _schema_files(version, kind, api_version)
    if files is None:
        return None
    schema, definitions = files
    return _Compiler(definitions).compile(schema)


def _pick(obj_dict: Any, k8s_version: str) -> tuple[str, str, str] | str:
    if not isinstance(obj_dict, Mapping):
        return "<root>: expected an object"
    kind, api_version = obj_dict.get("kind"), obj_dict.get("apiVersion")
    if not isinstance(kind, str) or not isinstance(api_version, str):
        return "<root>: kind and apiVersion are required to pick a schema"
    return schema_version(k8s_version), kind, api_version


def schema_errors(obj_dict: Mapping[str, Any], k8s_version: str) -> list[str]:
    """Every schema violation of ``obj_dict`` as ``"field.path: message"``; [] when valid."""
    picked = _pick(obj_dict, k8s_version)
    if isinstance(picked, str):
        return [picked]
    check = _compiled(*picked)
    if check is None:
        return [f"<root>: no schema for {picked[1]} {picked[2]} in Kubernetes {picked[0]}"]
    found: list[tuple[tuple, str]] = []
    check(dict(obj_dict), (), found)
    found.sort(key=lambda item: [str(x) for x in item[0]])
    return [f"{_path(p)}: {m}" for p, m in found]


def jsonschema_errors(obj_dict: Mapping[str, Any], k8s_version: str) -> list[str]:
    """The same check with the generic ``jsonschema`` validator (slow; used to cross-check)."""
    picked = _pick(obj_dict, k8s_version)
    if isinstance(picked, str):
        return [picked]
    validator = _jsonschema_validator(*picked)
    if validator is None:
        return [f"<root>: no schema for {picked[1]} {picked[2]} in Kubernetes {picked[0]}"]
    errors = sorted(validator.iter_errors(dict(obj_dict)), key=lambda e: [str(x) for x in e.absolute_path])
    return [f"{_path(e.absolute_path)}: {e.message}" for e in errors]
