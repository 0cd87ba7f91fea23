"""One entry point for every trace source: a path (openb CSV, generic CSV/JSONL) or
``synthetic[:N[:SEED]]`` for the seeded generator."""

from __future__ import annotations

from pathlib import Path

from simulator.csvrows import check_text_file, read_header
from simulator.errors import TraceError
from simulator.trace.generic import load_generic
from simulator.trace.model import Trace
from simulator.trace.openb import is_openb_header, load_openb_pods
from simulator.trace.synthetic import generate


def load_trace(source: str | Path) -> Trace:
    text = str(source)
    if text.startswith("synthetic"):
        parts = text.split(":")
        try:
            num = int(parts[1]) if len(parts) > 1 and parts[1] else 2000
            seed = int(parts[2]) if len(parts) > 2 and parts[2] else 42
        except ValueError:
            raise TraceError(f"{text}: expected synthetic[:PODS[:SEED]] with integers") from None
        return generate(num, seed)
    path = Path(text)
    if not path.exists():
        raise TraceError(f"{path}: no such trace file")
    if path.suffix == ".csv":
        header = read_header(path, TraceError, "trace")
        if is_openb_header(header):
            return load_openb_pods(path)
    check_text_file(path, TraceError, "trace")
    return load_generic(path)
