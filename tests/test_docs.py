"""Every shell and Python block in README.md and docs/*.md runs, so a doc that lies fails.

The fenced block's language decides:

- ```` ```sh ```` / ```` ```bash ````: the block runs with ``bash -eo pipefail``;
- ```` ```console ````: the lines starting with ``$ `` run (without ``-e``: a shown failure is
  part of the story), and every output line the doc shows must appear in what they print;
- ```` ```python ````: the block runs as a script;
- anything else (``text``, ``yaml``, ``json``, no language) is not run.

All blocks of one page run in order in one temporary copy of the repository (the files git
knows, plus the ``.venv`` and ``../shared`` beside it as links), so a block can use what an
earlier block of the same page wrote. ``.venv/bin`` is first on ``PATH``, as after
``source .venv/bin/activate`` (without a ``.venv``, the running interpreter's ``bin/`` stands in).

An HTML comment on the line before a block changes that, with the reason shown in the page:

- ``<!-- docs-test: skip (REASON) -->``: not run here (e.g. it needs a cluster, or it is
  ``make test`` itself); keep these few;
- ``<!-- docs-test: slow -->``: runs (also in ``make test``) with a longer timeout;
- ``<!-- docs-test: needs-shared -->``: runs when ``../shared`` is present, else skips.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN_LANGS = {"sh", "bash", "console", "python"}
TIMEOUT_S = 180
SLOW_TIMEOUT_S = 600
_FENCE = re.compile(r"^```([\w-]*)\s*$")
_DIRECTIVE = re.compile(r"^<!--\s*docs-test:\s*(skip|slow|needs-shared)\s*(?:\((.*)\))?\s*-->\s*$")


@dataclass
class Block:
    page: Path
    line: int
    lang: str
    text: str
    directive: str = ""
    reason: str = ""

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks_of(page: Path) -> list[Block]:
    """The fenced blocks of a page, with the docs-test directive written just before each."""
    lines = page.read_text().splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m.group(1)
        j = i + 1
        while j < len(lines) and lines[j].rstrip() != "```":
            j += 1
        prev = next((lines[k] for k in range(start - 1, -1, -1) if lines[k].strip()), "")
        d = _DIRECTIVE.match(prev.strip())
        out.append(Block(page, start + 1, lang, "\n".join(lines[start + 1:j]) + "\n",
                         d.group(1) if d else "", (d.group(2) or "") if d else ""))
        i = j + 1
    return out


ALL = [b for p in PAGES if p.exists() for b in blocks_of(p)]
RUNNABLE = [b for b in ALL if b.lang in RUN_LANGS]


def _shared() -> Path | None:
    from tests.conftest import find_shared_dir

    found = find_shared_dir()
    return found.resolve() if found else None


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, Path]:
    """One copy of the repository per page (blocks of a page share it, in order)."""
    return {}


def _copy_repo(base: Path) -> Path:
    repo = base / "repo"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    for name in files:
        src = ROOT / name
        if not src.is_file():
            continue
        dst = repo / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)  # keeps mtimes: make sees the venv as current
    if (ROOT / ".venv").exists():
        (repo / ".venv").symlink_to(ROOT / ".venv")
    else:
        # Tests run from another environment: make's targets use this interpreter's bin/, and
        # the stamp says it is installed (so `make run` does not build a venv of its own).
        (repo / ".venv").mkdir()
        (repo / ".venv" / "bin").symlink_to(Path(sys.executable).parent)
        (repo / ".venv" / ".installed").touch()
    shared = _shared()
    if shared is not None:
        (base / "shared").symlink_to(shared)
    return repo


def _env(repo: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{repo / '.venv' / 'bin'}:{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(repo)
    env.pop("MAKEFLAGS", None)
    env.setdefault("NODE_NAME", "node-a")
    return env


def _console(text: str) -> tuple[str, list[str]]:
    """The commands (``$ ``-lines, with ``\\`` continuations) and the output lines shown."""
    commands: list[str] = []
    shown: list[str] = []
    cont = False
    for line in text.splitlines():
        if cont:
            commands[-1] += "\n" + line
            cont = line.endswith("\\")
        elif line.startswith("$ "):
            commands.append(line[2:])
            cont = line.endswith("\\")
        elif line.strip():
            shown.append(line.strip())
    return "\n".join(commands) + "\n", shown


def test_docs_have_blocks_and_few_skips() -> None:
    assert RUNNABLE, "no runnable blocks found"
    skips = [b for b in RUNNABLE if b.directive == "skip"]
    assert all(b.reason for b in skips), [b.id for b in skips if not b.reason]
    assert len(skips) <= max(3, len(RUNNABLE) // 3), [b.id for b in skips]


def test_no_pointer_to_files_a_clone_does_not_have() -> None:
    for page in PAGES:
        text = page.read_text()
        assert "DESIGN.md" not in text, f"{page.name}: points to DESIGN.md, which a clone does not have"
        for link in re.findall(r"\]\(([^)#:]+)\)", text):
            assert (page.parent / link).exists(), f"{page.name}: broken link {link}"


@pytest.mark.parametrize("block", [pytest.param(b, id=b.id, marks=[pytest.mark.slow] if b.directive == "slow" else [])
                                   for b in RUNNABLE])
def test_block_runs(block: Block, sandbox: dict[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> None:
    if block.directive == "skip":
        pytest.skip(f"docs-test: skip ({block.reason})")
    if block.directive == "needs-shared" and _shared() is None:
        pytest.skip("needs ../shared (the openb traces and conformance tables), absent here")
    if block.page not in sandbox:
        sandbox[block.page] = _copy_repo(tmp_path_factory.mktemp(block.page.stem))
    repo = sandbox[block.page]
    timeout = SLOW_TIMEOUT_S if block.directive == "slow" else TIMEOUT_S
    shown: list[str] = []
    if block.lang == "python":
        argv = [sys.executable, "-c", block.text]
    elif block.lang == "console":
        script, shown = _console(block.text)
        argv = ["bash", "-o", "pipefail", "-c", script]
    else:
        argv = ["bash", "-eo", "pipefail", "-c", block.text]
    proc = subprocess.run(argv, cwd=repo, env=_env(repo), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    output = proc.stdout + proc.stderr
    if block.lang != "console":
        assert proc.returncode == 0, f"{block.id} failed ({proc.returncode}):\n{block.text}\n---\n{output[-4000:]}"
    missing = [line for line in shown if line not in output]
    assert not missing, f"{block.id}: output shown in the doc but not printed: {missing}\n---\n{output[-4000:]}"
