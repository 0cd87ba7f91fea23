"""The ``dra`` command.

Subcommands are discovered through the ``dra.commands`` entry-point group (see
pyproject.toml): each entry point is a ``register(subparsers)`` function that adds one
subcommand and sets ``func`` on its parser. This keeps the command set open (the simulator
adds ``dra sim``) without ``dra`` importing ``simulator``.

Every handler returns an exit status: 0 success, 1 a failure (a claim that does not fit,
failed conformance cases, a driver that stopped on an error), 2 a user error. A
:class:`dra.errors.UserError` -- and an error from the operating system about a path the user
gave (missing, a directory, not readable, not text) -- becomes one line on stderr and exit
status 2, never a traceback. ``dra --version`` prints the installed package's version.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points
from typing import Sequence

from dra.errors import UserError

EXIT_FAILURE = 1
EXIT_USER_ERROR = 2
# Errors about a path the user named: theirs to fix, so exit 2 with one line.
_PATH_ERRORS = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError,
                UnicodeDecodeError)


def package_version() -> str:
    """The installed distribution's version (single-sourced in the package metadata)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dra-gpu")
    except PackageNotFoundError:  # running from a tree that was never installed
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dra",
        description="Kubernetes DRA for NVIDIA GPUs: driver, allocator and simulator.",
    )
    parser.add_argument("--version", action="version", version=f"dra {package_version()}",
                        help="print the version of dra and exit")
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
    except _PATH_ERRORS as err:
        print(f"error: {_describe_os_error(err)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def _describe_os_error(err: BaseException) -> str:
    if isinstance(err, UnicodeDecodeError):
        return f"input is not UTF-8 text ({err.reason} at byte {err.start}); expected a YAML, JSON or CSV text file"
    filename = getattr(err, "filename", None)
    reason = getattr(err, "strerror", None) or str(err)
    return f"{filename}: {reason}" if filename else reason


if __name__ == "__main__":
    sys.exit(main())
