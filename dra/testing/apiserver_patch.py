"""PATCH bodies for the stand-in API server: JSON patch (RFC 6902) and JSON merge patch (RFC 7386).

A strategic merge patch is applied as a JSON merge patch. That is exact for maps and scalars,
but lists are replaced instead of merged by their patch key: a known simplification of the
stand-in (the clients under test send full objects with PUT or merge patches).
"""

from __future__ import annotations

import copy
from typing import Any


def apply_patch(obj: dict[str, Any], patch: Any, content_type: str) -> dict[str, Any]:
    """Return a patched copy of ``obj``; ``ValueError`` with a one-line reason on a bad patch."""
    if content_type == "application/json-patch+json":
        if not isinstance(patch, list):
            raise ValueError("a JSON patch must be a list of operations")
        return json_patch(obj, patch)
    if content_type in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
        if not isinstance(patch, dict):
            raise ValueError("a merge patch must be a JSON object")
        return merge_patch(obj, patch)
    raise ValueError(f"unsupported patch content type {content_type!r}")


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, steps: list[str]) -> tuple[Any, str]:
    node = doc
    for step in steps[:-1]:
        if isinstance(node, list):
            node = node[int(step)]
        elif isinstance(node, dict) and step in node:
            node = node[step]
        else:
            raise ValueError(f"path /{'/'.join(steps)} does not exist")
    return node, steps[-1]


def _get(doc: Any, steps: list[str]) -> Any:
    node = doc
    for step in steps:
        try:
            node = node[int(step)] if isinstance(node, list) else node[step]
        except (KeyError, IndexError, ValueError, TypeError):
            raise ValueError(f"path /{'/'.join(steps)} does not exist") from None
    return node


def _add(doc: Any, steps: list[str], value: Any) -> Any:
    if not steps:
        return value
    parent, last = _parent(doc, steps)
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if not 0 <= index <= len(parent):
            raise ValueError(f"index {index} out of range")
        parent.insert(index, value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise ValueError(f"cannot add to a {type(parent).__name__}")
    return doc


def _remove(doc: Any, steps: list[str]) -> Any:
    _get(doc, steps)  # raises if missing
    parent, last = _parent(doc, steps)
    if isinstance(parent, list):
        del parent[int(last)]
    else:
        del parent[last]
    return doc


def json_patch(obj: dict[str, Any], operations: list[Any]) -> dict[str, Any]:
    doc: Any = copy.deepcopy(obj)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise ValueError(f"invalid JSON patch operation {op!r}")
        kind, steps = op["op"], _pointer(op["path"])
        if kind == "add":
            doc = _add(doc, steps, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            doc = _remove(doc, steps)
        elif kind == "replace":
            doc = _remove(doc, steps)
            doc = _add(doc, steps, copy.deepcopy(op.get("value")))
        elif kind == "test":
            if _get(doc, steps) != op.get("value"):
                raise ValueError(f"test operation failed at {op['path']}")
        elif kind in ("move", "copy"):
            source = _pointer(op.get("from", ""))
            value = copy.deepcopy(_get(doc, source))
            if kind == "move":
                doc = _remove(doc, source)
            doc = _add(doc, steps, value)
        else:
            raise ValueError(f"unknown JSON patch operation {kind!r}")
    if not isinstance(doc, dict):
        raise ValueError("a JSON patch must leave an object")
    return doc
