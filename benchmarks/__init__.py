"""Benchmarks: each ``bench_*.py`` module has ``main() -> None`` and prints its figures,
each a ratio against a baseline measured in the same run. Figures are recorded by hand in
``benchmarks/RESULTS.md``. Run all with ``make bench`` or one with
``python -m benchmarks bench_cel``."""
