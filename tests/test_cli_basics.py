"""The ``dra`` command itself: help lists subcommands, user errors exit 2 without traceback."""

from __future__ import annotations

import subprocess
import sys

from dra.cli import main


def test_help_lists_registered_subcommands(capsys):
    try:
        main(["--help"])
    except SystemExit as exit_:
        assert exit_.code == 0
    out = capsys.readouterr().out
    assert "conformance" in out


def test_no_subcommand_prints_help_and_exits_2(capsys):
    assert main([]) == 2


def test_console_script_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "dra.cli", "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert "usage: dra" in proc.stdout
