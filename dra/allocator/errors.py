"""The allocator's error type.

:class:`AllocationError` is a fatal problem with the input (the scheduler aborts the whole
attempt): an unknown class, a bad selector, a claim beyond the limits... Its message
contains upstream's wording so that it can be matched against the upstream test table.
"Cannot allocate on this node" is *not* an error: :meth:`Allocator.allocate` returns None.
"""

from __future__ import annotations

from dra.errors import UserError


class AllocationError(UserError):
    """A fatal allocation problem; the message names the claim and request."""

    def __init__(self, message: str, *, node_local: bool = False) -> None:
        super().__init__(message)
        # Upstream wraps ErrFailedAllocationOnNode for "invalid resource pools were
        # encountered": other nodes may still work.
        self.node_local = node_local
