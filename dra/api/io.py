"""Reading and writing Kubernetes objects: YAML (multi-document), JSON, lists, directories.

``load_objects(path)`` accepts a YAML file (any number of ``---`` documents), a JSON file (one
object or an array), ``kind: List`` wrappers, or a directory whose ``*.yaml``/``*.yml``/
``*.json`` files are read in name order.  Each object is dispatched by ``apiVersion``/``kind``
to its model.  Every problem is one line naming ``file:line`` (YAML syntax errors, structural
errors mapped back to the line of the offending field, unknown kinds).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Sequence

import yaml

from dra.api.base import K8sModel, TopLevelModel
from dra.api.deviceclass import DeviceClass
from dra.api.devicetaintrule import DeviceTaintRule
from dra.api.errors import ApiError
from dra.api.meta import Node
from dra.api.resourceclaim import ResourceClaim, ResourceClaimTemplate
from dra.api.resourceslice import ResourceSlice
from dra.errors import UserError

__all__ = [
    "LoadError",
    "KINDS",
    "load_objects",
    "load_objects_from_text",
    "parse_object",
    "dump_yaml",
    "dump_json",
]


class LoadError(ApiError):
    """A file that cannot be read as Kubernetes objects (syntax, unknown kind, bad field)."""


_RESOURCE_KINDS: tuple[type[TopLevelModel], ...] = (
    ResourceSlice,
    DeviceClass,
    ResourceClaim,
    ResourceClaimTemplate,
)
# (apiVersion, kind) -> model.  v1beta2 has exactly the v1 shape, so it loads into the same
# models (the apiVersion is kept); v1beta1 has an older shape and is refused with a hint.
KINDS: dict[tuple[str, str], type[TopLevelModel]] = {("v1", "Node"): Node}
for _cls in _RESOURCE_KINDS:
    KINDS[("resource.k8s.io/v1", _cls.KIND)] = _cls
    KINDS[("resource.k8s.io/v1beta2", _cls.KIND)] = _cls
KINDS[("resource.k8s.io/v1alpha3", "DeviceTaintRule")] = DeviceTaintRule
KINDS[("resource.k8s.io/v1", "DeviceTaintRule")] = DeviceTaintRule  # 1.37+ (v1alpha3 and v1beta2 before)
KINDS[("resource.k8s.io/v1beta2", "DeviceTaintRule")] = DeviceTaintRule


def _known_kinds() -> str:
    return ", ".join(sorted({f"{v}/{k}" for v, k in KINDS if not v.endswith("v1beta2")}))


def parse_object(data: Any, source: str = "<input>") -> TopLevelModel:
    """Turn one decoded document into its model, by ``apiVersion`` and ``kind``."""
    if isinstance(data, TopLevelModel):
        return data
    if not isinstance(data, dict):
        raise LoadError(f"{source}: expected a Kubernetes object (a mapping), got {type(data).__name__}")
    api_version = data.get("apiVersion")
    kind = data.get("kind")
    if not kind or not api_version:
        missing = "kind" if not kind else "apiVersion"
        raise LoadError(f"{source}: {missing}: Required value (known kinds: {_known_kinds()})", (missing,))
    cls = KINDS.get((api_version, kind))
    if cls is None:
        if api_version == "resource.k8s.io/v1beta1":
            hint = "resource.k8s.io/v1beta1 has the older flattened shape; use resource.k8s.io/v1"
        else:
            hint = f"known kinds: {_known_kinds()}"
        raise LoadError(f'{source}: unknown kind "{api_version}/{kind}" ({hint})', ("kind",))
    try:
        return cls.from_dict(data)
    except ApiError as exc:
        raise LoadError(f"{source}: {exc}", exc.loc) from None


# -- YAML with line numbers ----------------------------------------------------------------


# libyaml's parser when present (an order of magnitude faster); same nodes and marks.
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """SafeLoader that refuses duplicate keys, as the Kubernetes YAML decoder does
    (``key "x" already set in map``) instead of silently keeping the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            try:
                duplicate = key in seen
            except TypeError:
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, f'key "{key}" already set in map', key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _yaml_documents(text: str, source: str) -> Iterator[tuple[Any, Optional[yaml.Node]]]:
    """(decoded document, its node) for every non-empty document, with syntax errors as file:line."""
    loader = _StrictLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            data = loader.construct_document(node)
            if data is None:
                continue
            yield data, node
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = exc.problem or exc.context or "invalid YAML"
        raise LoadError(f"{where}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise LoadError(f"{source}: invalid YAML: {exc}") from None
    finally:
        dispose = getattr(loader, "dispose", None)
        if dispose is not None:
            dispose()


def _line_of(node: Optional[yaml.Node], loc: Sequence[object]) -> Optional[int]:
    """Follow ``loc`` (keys / indexes) through a YAML node tree; the 1-based line reached
    (for a mapping entry, the line of its key)."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for el in loc:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if str(getattr(k, "value", None)) == str(el):
                    node = v
                    line = k.start_mark.line + 1
                    break
            else:
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(el, int) and 0 <= el < len(node.value):
            node = node.value[el]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _items(data: Any, node: Optional[yaml.Node]) -> Iterator[tuple[Any, Optional[yaml.Node]]]:
    """Flatten JSON arrays and ``kind: List`` wrappers into their objects."""
    if isinstance(data, list):
        children = node.value if isinstance(node, yaml.SequenceNode) else [None] * len(data)
        for item, child in zip(data, children):
            yield from _items(item, child)
        return
    if isinstance(data, dict) and data.get("kind") == "List" and "items" in data:
        items = data.get("items") or []
        items_node = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if getattr(k, "value", None) == "items":
                    items_node = v
        yield from _items(items, items_node)
        return
    yield data, node


def _parse_with_lines(data: Any, node: Optional[yaml.Node], source: str) -> TopLevelModel:
    start = node.start_mark.line + 1 if node is not None else None
    where = f"{source}:{start}" if start else source
    try:
        return parse_object(data, where)
    except LoadError as exc:
        line = _line_of(node, exc.loc) if exc.loc else None
        if line is None or line == start:
            raise
        # Point at the offending field's line instead of the document start.
        text = str(exc)
        if text.startswith(where + ": "):
            text = text[len(where) + 2 :]
        raise LoadError(f"{source}:{line}: {text}", exc.loc) from None


def _json_nodes(text: str) -> Optional[yaml.Node]:
    """The YAML node tree of a JSON text (JSON is YAML), only used to find error lines."""
    try:
        return yaml.compose(text, Loader=_BaseLoader)
    except yaml.YAMLError:
        return None


def load_objects_from_text(text: str, source: str = "<stdin>") -> list[TopLevelModel]:
    """Objects from YAML or JSON text.  JSON is decoded by the JSON parser; its YAML node tree
    is built only when an error needs a line number."""
    stripped = text.lstrip()
    out: list[TopLevelModel] = []
    if stripped.startswith(("{", "[")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LoadError(f"{source}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
        for index, (item, _) in enumerate(_items(data, None)):
            try:
                out.append(parse_object(item, source))
            except LoadError:
                # Redo this object with line numbers from the node tree for the message.
                nodes = list(_items(data, _json_nodes(text)))
                node = nodes[index][1] if index < len(nodes) else None
                out.append(_parse_with_lines(item, node, source))
        return out
    for data, node in _yaml_documents(text, source):
        for item, item_node in _items(data, node):
            out.append(_parse_with_lines(item, item_node, source))
    return out


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml", ".json"))
    return [path]


def load_objects(path: str | Path) -> list[TopLevelModel]:
    """Every object in a file or a directory of files (see the module docstring); ``-``
    reads standard input."""
    if str(path) == "-":
        return load_objects_from_text(sys.stdin.read(), "<stdin>")
    root = Path(path)
    if not root.exists():
        raise LoadError(f"{root}: no such file or directory")
    out: list[TopLevelModel] = []
    for file in _files(root):
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise LoadError(f"{file}: cannot read: {exc}") from None
        out.extend(load_objects_from_text(text, str(file)))
    return out


# -- writing ------------------------------------------------------------------------------


def _as_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, K8sModel):
        return obj.to_dict()
    if isinstance(obj, dict):
        return obj
    raise UserError(f"cannot write {type(obj).__name__} as a Kubernetes object")


def _as_list(objs: Any) -> list[Any]:
    if isinstance(objs, (K8sModel, dict)):
        return [objs]
    return list(objs)


def dump_yaml(objs: K8sModel | dict[str, Any] | Iterable[K8sModel | dict[str, Any]]) -> str:
    """Multi-document YAML, one document per object, fields in Kubernetes order."""
    docs = [_as_dict(o) for o in _as_list(objs)]
    return yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False, allow_unicode=True, explicit_start=len(docs) > 1)


def dump_json(objs: K8sModel | dict[str, Any] | Iterable[K8sModel | dict[str, Any]]) -> str:
    """One object as JSON; several as a ``kind: List`` (what kubectl prints)."""
    if isinstance(objs, (K8sModel, dict)):
        return json.dumps(_as_dict(objs), indent=2, ensure_ascii=False) + "\n"
    items = [_as_dict(o) for o in objs]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=2, ensure_ascii=False) + "\n"
