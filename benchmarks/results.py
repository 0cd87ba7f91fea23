"""Recording benchmark figures in benchmarks/RESULTS.md.

Each benchmark owns one ``## <title>`` section; a new run replaces that section in place (or
appends it the first time), so re-running ``make bench`` refreshes figures instead of piling up
copies.
"""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def record_section(section: str, results: Path = RESULTS) -> None:
    """Replace the section whose heading is the first line of ``section`` (or append it)."""
    heading = section.lstrip("\n").splitlines()[0]
    if not heading.startswith("## "):
        raise ValueError(f"a results section must start with a '## ' heading, got {heading!r}")
    text = results.read_text() if results.exists() else "# Benchmark results\n"
    body = section.strip("\n") + "\n"
    start = text.find(heading + "\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + body
    else:
        end = text.find("\n## ", start + len(heading))
        rest = text[end + 1:] if end >= 0 else ""
        text = text[:start] + body + ("\n" + rest if rest else "")
    results.write_text(text)
