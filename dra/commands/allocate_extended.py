"""Pods with extended resources backed by DRA (KEP-5004) for ``dra allocate``: reading them.

What the scheduler makes of such a Pod (one special claim, its annotation and request names,
which class maps a name) is the pure :mod:`dra.allocator.extended`, shared with the simulator.
Pods are not a kind ``dra.api`` models, so they are taken out of the input files here, before
the rest is loaded as usual.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import yaml

from dra.allocator.extended import (  # noqa: F401 - re-exported for callers of this module
    ANNOTATION,
    IMPLICIT_PREFIX,
    ExtendedResourceError,
    class_for_resources,
    claims_for_pods,
)


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml", ".json"))
    return [path]


def _is_pod(doc: Any) -> bool:
    return isinstance(doc, dict) and doc.get("kind") == "Pod" and doc.get("apiVersion") == "v1"


def split_pods(paths: list[str], loader: Callable[[list[str]], list[Any]]) -> tuple[list[dict[str, Any]], list[Any]]:
    """(Pods as dicts, every other object loaded by ``loader``) from ``paths``."""
    from dra.api.io import load_objects_from_text

    pods: list[dict[str, Any]] = []
    objs: list[Any] = []
    if paths.count("-") > 1:
        loader(paths)  # refuses a second standard input with its own one-line error
    for raw in paths:
        path = Path(raw)
        files = _files(path) if path.exists() else []
        if raw == "-" or not files:
            objs.extend(loader([raw]))  # stdin, a missing path or a directory without manifests
            continue
        for file in files:
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                objs.extend(loader([str(file)]))  # the loader reports it
                continue
            if "Pod" not in text:
                objs.extend(loader([str(file)]))
                continue
            try:
                docs = [d for d in yaml.safe_load_all(text) if d is not None]
            except yaml.YAMLError:
                objs.extend(loader([str(file)]))  # the loader reports it with a line
                continue
            items = [i for d in docs for i in (d.get("items") if isinstance(d, dict) and d.get("kind") == "List" else [d])]
            if not any(_is_pod(i) for i in items):
                objs.extend(loader([str(file)]))
                continue
            for i, item in enumerate(items):
                if _is_pod(item):
                    pods.append(item)
                else:
                    objs.extend(load_objects_from_text(yaml.safe_dump(item), f"{file} (object {i + 1})"))
    return pods, objs
