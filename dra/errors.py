"""The one exception type for mistakes a user can make.

Anything a user can get wrong (a bad manifest, a bad CEL expression, a claim that names an
unknown class, a malformed trace row) is raised as a :class:`UserError` whose message is one
line naming the place (file:line, field path, claim/request). The CLI prints that line and
exits with status 2; it never shows a traceback for a ``UserError``.
"""

from __future__ import annotations


class UserError(Exception):
    """An error caused by input, reported to the user as one line."""

    def __init__(self, message: str) -> None:
        # Keep it one line: multi-line messages are folded so the CLI contract holds.
        super().__init__(" ".join(str(message).split("\n")))

    @property
    def message(self) -> str:
        return str(self)
