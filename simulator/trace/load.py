"""One entry point for every trace source: a path (openb CSV, the DLRM-2025 CSV, generic CSV/JSONL) or
``synthetic[:N[:SEED[:gangs=F]]]`` for the seeded generator."""

from __future__ import annotations

from pathlib import Path

from simulator.csvrows import check_text_file, read_header
from simulator.errors import TraceError
from simulator.trace.dlrm import is_dlrm_header, load_dlrm
from simulator.trace.generic import load_generic
from simulator.trace.model import Trace
from simulator.trace.openb import is_openb_header, load_openb_pods
from simulator.trace.synthetic import SyntheticMix, generate


def load_trace(source: str | Path) -> Trace:
    text = str(source)
    if text.startswith("synthetic"):
        parts = text.split(":")
        usage = f"{text}: expected synthetic[:PODS[:SEED[:gangs=FRACTION]]]"
        try:
            num = int(parts[1]) if len(parts) > 1 and parts[1] else 2000
            seed = int(parts[2]) if len(parts) > 2 and parts[2] else 42
        except ValueError:
            raise TraceError(f"{usage} with integers") from None
        gangs = 0.0
        for extra in parts[3:]:
            key, _, value = extra.partition("=")
            if key != "gangs":
                raise TraceError(f"{usage}: unknown option {key!r}")
            try:
                gangs = float(value)
            except ValueError:
                raise TraceError(f"{usage}: gangs must be a number between 0 and 1, got {value!r}") from None
            if not 0 <= gangs <= 1:
                raise TraceError(f"{usage}: gangs must be a number between 0 and 1, got {value}")
        if num < 1:
            raise TraceError(f"{usage}: PODS must be at least 1")
        return generate(num, seed, SyntheticMix(gangs=gangs))
    path = Path(text)
    if not path.exists():
        raise TraceError(f"{path}: no such trace file")
    if path.suffix == ".csv":
        header = read_header(path, TraceError, "trace")
        if is_openb_header(header):
            return load_openb_pods(path)
        if is_dlrm_header(header):
            return load_dlrm(path)
    check_text_file(path, TraceError, "trace")
    return load_generic(path)
