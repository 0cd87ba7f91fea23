"""The ``dra`` command.

Subcommands are discovered through the ``dra.commands`` entry-point group (see
pyproject.toml): each entry point is a ``register(subparsers)`` function that adds one
subcommand and sets ``func`` on its parser. This keeps the command set open (the simulator
adds ``dra sim``) without ``dra`` importing ``simulator``.

Every handler returns an exit status. A :class:`dra.errors.UserError` becomes one line on
stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points
from typing import Sequence

from dra.errors import UserError

EXIT_USER_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dra",
        description="Kubernetes DRA for NVIDIA GPUs: driver, allocator and simulator.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for entry in sorted(entry_points(group="dra.commands"), key=lambda e: e.name):
        register = entry.load()
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    try:
        return int(args.func(args) or 0)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
