"""User-facing errors of the simulator (all are :class:`dra.errors.UserError`)."""

from __future__ import annotations

from difflib import get_close_matches
from typing import Iterable

from dra.errors import UserError


class TraceError(UserError):
    """A malformed trace row or file; the message names file:line and the column."""


class FleetError(UserError):
    """A malformed fleet description or an unknown fleet/profile name."""


class UnknownNameError(UserError):
    """A name (policy, placement, model, profile, fleet) that is not one of the valid ones."""

    def __init__(self, what: str, name: str, valid: Iterable[str]) -> None:
        valid = sorted(set(valid))
        close = get_close_matches(name, valid, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        super().__init__(f"unknown {what} {name!r}{hint}; valid: {', '.join(valid)}")
