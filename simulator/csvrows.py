"""Reading the node-list and trace CSV files row by row with ``file:line`` locations.

The CSV loaders (openb node and pod lists, the spot-GPU node list) open a file, insist on a
known header and walk the rows, skipping blank ones; this is that walk, so their errors read
the same. :func:`check_text_file` is the gate every input file passes first: a directory, an
unreadable file or a binary file (a NUL byte or invalid UTF-8 in its first 64 KiB) is one
clear line, never a traceback from the decoder.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Callable, Iterator

from dra.errors import UserError


def check_text_file(path: Path, error: type[UserError], what: str) -> None:
    if path.is_dir():
        raise error(f"{path}: is a directory, expected a {what} file")
    try:
        with path.open("rb") as handle:
            head = handle.read(65536)
    except OSError as err:
        raise error(f"{path}: cannot read: {err.strerror}") from None
    if b"\0" in head:
        raise error(f"{path}: a binary file, expected a {what} file (text)")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 4:  # not just a character cut at the 64 KiB boundary
            raise error(f"{path}: not UTF-8 text at byte {err.start}, expected a {what} file") from None


def csv_rows(
    path: Path,
    error: type[UserError],
    header_ok: Callable[[list[str]], bool],
    header_problem: str,
) -> Iterator[tuple[str, list[str]]]:
    """Yield ``(f"{path}:1", header)`` first, then ``(f"{path}:{line}", row)`` for every
    non-blank row. A missing or unreadable file, or a header ``header_ok`` refuses, raises
    ``error`` (``header_problem`` says what was expected)."""
    check_text_file(path, error, "CSV")
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as err:
        raise error(f"{path}: cannot read: {err.strerror}") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if header is None or not header_ok(header):
                raise error(f"{path}:1: {header_problem}")
            yield f"{path}:1", header
            for row in reader:
                if not row or all(not cell.strip() for cell in row):
                    continue
                yield f"{path}:{reader.line_num}", row
        except (UnicodeDecodeError, csv.Error) as err:
            raise error(f"{path}:{reader.line_num + 1}: unreadable CSV: {err}") from None


def read_header(path: Path, error: type[UserError], what: str) -> list[str]:
    """The first CSV row of a checked text file (empty for an empty file)."""
    check_text_file(path, error, what)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return next(csv.reader(handle), [])
    except (UnicodeDecodeError, csv.Error, OSError) as err:
        raise error(f"{path}:1: unreadable {what}: {err}") from None


def non_negative_ints(where: str, columns: list[str], texts: list[str], error: type[UserError]) -> list[int]:
    """The cells ``texts`` of the named ``columns`` as integers >= 0, or one ``file:line`` error."""
    values = []
    for column, text in zip(columns, texts):
        try:
            value = int(text)
        except ValueError:
            raise error(f"{where}: column {column!r}: expected an integer, got {text!r}") from None
        if value < 0:
            raise error(f"{where}: column {column!r}: must be >= 0, got {value}")
        values.append(value)
    return values
