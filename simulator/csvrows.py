"""Reading the openb CSV files row by row with ``file:line`` locations.

Both openb loaders (node lists and pod lists) open a file, insist on a known header and walk
the rows, skipping blank ones; this is that walk, so their errors read the same.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Callable, Iterator

from dra.errors import UserError


def csv_rows(
    path: Path,
    error: type[UserError],
    header_ok: Callable[[list[str]], bool],
    header_problem: str,
) -> Iterator[tuple[str, list[str]]]:
    """Yield ``(f"{path}:1", header)`` first, then ``(f"{path}:{line}", row)`` for every
    non-blank row. A missing or unreadable file, or a header ``header_ok`` refuses, raises
    ``error`` (``header_problem`` says what was expected)."""
    try:
        handle = path.open(newline="")
    except OSError as err:
        raise error(f"{path}: cannot read: {err.strerror}") from None
    with handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or not header_ok(header):
            raise error(f"{path}:1: {header_problem}")
        yield f"{path}:1", header
        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue
            yield f"{path}:{reader.line_num}", row
