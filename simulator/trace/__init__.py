"""Pod traces: the trace model, loaders (openb CSV, generic CSV/JSONL) and a synthetic generator."""

from simulator.trace.model import Pod, Trace
from simulator.trace.load import load_trace

__all__ = ["Pod", "Trace", "load_trace"]
