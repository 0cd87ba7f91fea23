"""Test-only pause points inside prepare, so a crash test can kill -9 at a chosen moment.

Set ``DRA_PLUGIN_TEST_PAUSE_AT`` to one of ``after-started`` (checkpoint says
PrepareStarted, nothing done yet), ``after-apply`` (MIG instance created / sharing set, no
CDI spec yet), ``after-cdi`` (CDI spec written, PrepareCompleted not yet),
``unprepare-marked`` (the record says Unpreparing, nothing undone yet) or
``unprepare-undone`` (every effect undone, record not yet dropped), optionally
followed by ``:<claim uid>`` to pause only that claim, and ``DRA_PLUGIN_TEST_PAUSE_DIR`` to a
directory. On reaching that point for a claim the plugin
writes ``<dir>/<claim uid>`` and blocks; the test waits for the file and kills the process.
Unset (production), :func:`pause_point` is a dictionary lookup and returns at once.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

POINTS = ("after-started", "after-apply", "after-cdi", "unprepare-marked", "unprepare-undone")


def pause_point(point: str, claim_uid: str) -> None:
    wanted = os.environ.get("DRA_PLUGIN_TEST_PAUSE_AT")
    if wanted is None:
        return
    wanted_point, _, wanted_uid = wanted.partition(":")
    if wanted_point != point or (wanted_uid and wanted_uid != claim_uid):
        return
    directory = os.environ.get("DRA_PLUGIN_TEST_PAUSE_DIR")
    if not directory:
        return
    Path(directory, claim_uid).write_text(point)
    threading.Event().wait()  # block until killed
