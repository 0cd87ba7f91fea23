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
        try:
            register = entry.load()
        except ModuleNotFoundError as err:
            # An optional part is not installed (the driver image has no simulator): the
            # subcommand still appears, and says in one line how to get it when used.
            _register_missing(subparsers, entry.name, err)
            continue
        register(subparsers)
    return parser


def _register_missing(subparsers, name: str, err: ModuleNotFoundError) -> None:
    extra = "sim" if name == "sim" else name
    message = (f"`dra {name}` is not installed here (no module {err.name!r}); "
               f"install it with: pip install 'dra-gpu[{extra}]'")
    parser = subparsers.add_parser(name, help=f"(not installed: pip install 'dra-gpu[{extra}]')",
                                   add_help=False, prefix_chars="\0")
    parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    def missing(_args: argparse.Namespace) -> int:
        raise UserError(message)

    parser.set_defaults(func=missing)


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
