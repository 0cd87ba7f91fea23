"""Options and output shared by the ``dra`` subcommands, spelled as kubectl spells them.

- ``-f/--filename FILE|DIR|-`` (repeatable; ``-`` is standard input, read once), loaded
  through :func:`dra.api.io.load_objects` and checked with API validation
  (:func:`validate_objects`) where the API server would check them.
- ``-o/--output yaml|json|wide|name``: YAML documents, JSON (a ``v1 List`` that
  ``kubectl apply -f`` accepts), a wide table, or ``kind.group/name``.
- ``--kubernetes-version`` (1.34-1.37, default 1.37) with ``--k8s-version`` kept as a hidden,
  deprecated alias.
- :func:`check_output_path`: a path to write is checked *before* any work is done.

Everything a user can get wrong raises :class:`dra.errors.UserError` (one line, exit 2).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from dra.errors import UserError
from dra.versions import DEFAULT_VERSION, SUPPORTED_MINORS, parse_minor

OUTPUT_FORMATS = ("yaml", "json", "wide", "name")


def add_filename_argument(parser: argparse.ArgumentParser, *, required: bool = True,
                          what: str = "Kubernetes objects") -> None:
    parser.add_argument("-f", "--filename", action="append", required=required, default=None,
                        metavar="FILE|DIR|-",
                        help=f"YAML/JSON file, directory of them, or - for standard input, with {what}"
                             " (repeatable)")


def add_output_argument(parser: argparse.ArgumentParser, *, choices: Sequence[str] = OUTPUT_FORMATS,
                        default: str = "yaml", what: str = "objects") -> None:
    parser.add_argument("-o", "--output", choices=tuple(choices), default=default,
                        help=f"output format of the {what}: {'|'.join(choices)} (default {default});"
                             " json of several objects is a v1 List, as kubectl prints")


def add_kubernetes_version_argument(parser: argparse.ArgumentParser, *, default: str = DEFAULT_VERSION,
                                    what: str = "API shape and limits") -> None:
    parser.add_argument("--kubernetes-version", dest="kubernetes_version", default=default,
                        metavar="VERSION",
                        help=f"Kubernetes version whose {what} to follow: {', '.join(SUPPORTED_MINORS)}"
                             f" (default {default})")
    # The old spelling still works (scripts use it) but is no longer shown; see docs/cli.md.
    parser.add_argument("--k8s-version", dest="kubernetes_version", help=argparse.SUPPRESS)


def kubernetes_minor(args: argparse.Namespace) -> str:
    """The validated minor (``"1.36"``) of ``--kubernetes-version``."""
    return parse_minor(args.kubernetes_version)


def api_validation_version(minor: str) -> str:
    """The rule set of :mod:`dra.api.validation` for ``minor`` (1.34's or the newer one)."""
    from dra.api import validation

    supported = getattr(validation, "SUPPORTED_VERSIONS", ("1.34", "1.35"))
    if minor in supported:
        return minor
    # Validation that has not learnt a newer minor yet follows the newest rules it knows.
    return max(supported, key=lambda v: tuple(int(p) for p in v.split(".")))


# -- input ------------------------------------------------------------------------------


def load_inputs(paths: Iterable[str] | None, *, option: str = "-f") -> list[Any]:
    """Every object in ``paths`` (files, directories, ``-``), with one-line errors for
    missing paths, directories without manifests, binary files and a second ``-``."""
    from dra.api.io import load_objects

    out: list[Any] = []
    stdin_used = False
    for path in paths or []:
        if path == "-":
            if stdin_used:
                raise UserError(f"{option} -: standard input can be given only once")
            stdin_used = True
            out.extend(load_objects("-"))
            continue
        p = Path(path)
        if not p.exists():
            raise UserError(f"{path}: no such file or directory")
        if p.is_dir():
            found = load_objects(p)
            if not found and not any(f.suffix in (".yaml", ".yml", ".json") for f in p.iterdir()):
                raise UserError(f"{path}: directory has no .yaml, .yml or .json file")
            out.extend(found)
            continue
        check_text_file(p)
        out.extend(load_objects(p))
    return out


def check_text_file(path: Path, *, what: str = "file") -> None:
    """Refuse a directory, an unreadable file or a binary file with one line."""
    if path.is_dir():
        raise UserError(f"{path}: is a directory, expected a {what}")
    if not path.is_file():
        return  # a pipe or a device (e.g. bash's <(...)): reading ahead would consume it
    try:
        head = path.open("rb").read(8192)
    except OSError as err:
        raise UserError(f"{path}: cannot read: {err.strerror or err}") from None
    if b"\0" in head:
        raise UserError(f"{path}: binary file, expected a YAML or JSON text {what}")


def validate_objects(objs: Iterable[Any], minor: str) -> None:
    """API validation as the API server does on create, for every object; the first invalid
    object is one line naming it and every problem."""
    from dra.api.validation import validate_or_raise

    version = api_validation_version(minor)
    for obj in objs:
        try:
            validate_or_raise(obj, k8s_version=version)
        except TypeError:
            continue  # a kind validation does not cover


# -- output -----------------------------------------------------------------------------


def check_output_path(path: str | None, *, option: str = "-o", directory: bool = False) -> None:
    """Refuse an output path that cannot be written, before anything is computed."""
    if not path:
        return
    p = Path(path)
    if directory:
        if p.exists() and not p.is_dir():
            raise UserError(f"{option} {path}: exists and is not a directory")
        parent = p if p.exists() else p.parent
    else:
        if p.is_dir():
            raise UserError(f"{option} {path}: is a directory, expected a file path")
        parent = p.parent
    parent = parent if str(parent) else Path(".")
    if not parent.exists():
        raise UserError(f"{option} {path}: directory {parent} does not exist")
    if not parent.is_dir():
        raise UserError(f"{option} {path}: {parent} is not a directory")
    import os

    if not os.access(parent, os.W_OK):
        raise UserError(f"{option} {path}: directory {parent} is not writable")


def as_dict(obj: Any) -> dict[str, Any]:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def object_name(obj: dict[str, Any]) -> str:
    """``resourceclaim.resource.k8s.io/name``, as ``kubectl get -o name`` prints."""
    kind = str(obj.get("kind", "object")).lower()
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    meta = obj.get("metadata") or {}
    return f"{kind}.{group}/{meta.get('name', '')}" if group else f"{kind}/{meta.get('name', '')}"


def format_objects(objs: Sequence[Any], fmt: str, *,
                   wide: Callable[[list[dict[str, Any]]], str] | None = None) -> str:
    """``objs`` as ``fmt`` (see the module docstring); JSON is a v1 List."""
    docs = [as_dict(o) for o in objs]
    if fmt == "json":
        # Always a List (as `kubectl get` of a collection), so scripts need not special-case one.
        data: Any = {"apiVersion": "v1", "kind": "List", "items": docs}
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if fmt == "name":
        return "".join(object_name(d) + "\n" for d in docs)
    if fmt == "wide":
        if wide is None:
            raise UserError("-o wide is not available here")
        return wide(docs)
    import yaml

    if not docs:
        return ""
    return yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False, allow_unicode=True,
                              explicit_start=len(docs) > 1)


def table(rows: list[list[str]]) -> str:
    """Columns padded as kubectl pads them (three spaces), header first."""
    if not rows:
        return ""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "".join("   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + "\n" for r in rows)


def quantity(value: Any) -> str:
    """A byte count or quantity in canonical form (``20Gi``, ``1500m``)."""
    from dra.api.quantity import Quantity

    if isinstance(value, int):
        return Quantity.from_int(value, "BinarySI").canonical()
    return Quantity(value).canonical()
