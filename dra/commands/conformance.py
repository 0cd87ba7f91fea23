"""``dra conformance cel|allocator``: run transcribed upstream test cases.

Both runners print each failure with expected vs actual and end with the line
``N passed, M failed``; the exit status is 0 only when M is 0.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "conformance", help="run upstream conformance cases (CEL, allocator)"
    )
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)

    cel = kinds.add_parser("cel", help="CEL selector cases (JSON lines)")
    cel.add_argument("path", help="a .jsonl file in the format of conformance/cel-cases.jsonl")
    cel.add_argument("--verbose", action="store_true", help="also print passing cases")
    cel.set_defaults(func=_run_cel)

    alloc = kinds.add_parser("allocator", help="structured-allocator cases (directory or .jsonl)")
    alloc.add_argument("path", help="a directory of case .json files, one case file, or a .jsonl file")
    alloc.add_argument("--verbose", action="store_true", help="also print passing cases")
    alloc.set_defaults(func=_run_allocator)


def _check_path(path: str, *, directory_ok: bool) -> None:
    from pathlib import Path

    from dra.commands.common import check_text_file
    from dra.errors import UserError

    p = Path(path)
    if not p.exists():
        raise UserError(f"{path}: no such file or directory")
    if p.is_dir() and directory_ok:
        return
    check_text_file(p, what="case file")


def _run_cel(args: argparse.Namespace) -> int:
    from dra.testing.cel_conformance import run_cel_conformance

    _check_path(args.path, directory_ok=False)
    return run_cel_conformance(args.path, verbose=args.verbose)


def _run_allocator(args: argparse.Namespace) -> int:
    from dra.testing.allocator_conformance import run_allocator_conformance

    _check_path(args.path, directory_ok=True)
    return run_allocator_conformance(args.path, verbose=args.verbose)
