"""Which DRA CEL environment an expression is compiled in, per Kubernetes version.

Upstream (``k8s.io/dynamic-resource-allocation/cel`` ``newCompiler``) declares the ``device``
variable in versions, and API validation of a new object (``NewExpressions``) picks one by
feature gate while the scheduler (``StoredExpressions``) sees every declaration, the newest
winning:

=========  ==========================================  =====================================
minor      NewExpressions                              StoredExpressions
=========  ==========================================  =====================================
1.34/1.35  V131 (driver, attributes: Any, capacity);   V134 (always has
           V134 adds ``allowMultipleAllocations``      ``allowMultipleAllocations``)
           with DRAConsumableCapacity
1.36       attributes are ``dyn`` (lists, macros) and  as new, plus ``includes`` always and
           ``includes()`` exists with                  ``allowMultipleAllocations``
           DRAListTypeAttributes (gate read globally)
1.37       V131/V134/V136-list/V136-list+consumable    V136-list+consumable and ``includes``
           by the two gates                            always (version-skew rule, DRA-lib
                                                       commit 5afedd9)
=========  ==========================================  =====================================

A selector must evaluate to ``bool`` or to the attribute type of its environment (``Any`` before
list attributes, ``dyn`` with them). 1.36's ``includes`` refuses lists longer than 48 values;
1.37's comes from the Kubernetes ``Lists`` library and has no such limit. From 1.37 the
allocator adds a hint to ``no such key`` runtime errors (``cel.EnhanceRuntimeError``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

__all__ = ["CelEnvironment", "EXT_LISTS_FUNCTIONS", "NO_SUCH_KEY_HINT", "environment"]

EXT_LISTS_FUNCTIONS = frozenset(("slice", "flatten", "lists.range", "distinct", "reverse", "sort", "sortBy", "first", "last"))

NO_SUCH_KEY_HINT = (
    ". consider using CEL optional chaining (.? followed by orValue()) or guarding the check with has() "
    "for optional fields"
)
LEGACY_MINOR = "1.35"  # what callers that name no version get (the rules before list attributes)


def _key(minor: str) -> tuple[int, int]:
    major, _, rest = minor.partition(".")
    return int(major), int(rest)


@dataclass(frozen=True)
class CelEnvironment:
    """The facts of one DRA CEL environment (see the module docstring)."""

    minor: str = LEGACY_MINOR
    stored: bool = True
    consumable_capacity: bool = True
    list_type_attributes: bool = False

    @property
    def allow_multiple_allocations_field(self) -> bool:
        return self.stored or self.consumable_capacity

    @property
    def dyn_attributes(self) -> bool:
        """Attribute values are ``dyn`` (may be lists, may range a comprehension) not ``Any``."""
        if _key(self.minor) < (1, 36):
            return False
        if _key(self.minor) == (1, 36):
            return self.list_type_attributes
        return self.stored or self.list_type_attributes

    @property
    def ext_lists(self) -> bool:
        """cel-go's ext.Lists v3 (slice, flatten, lists.range, distinct, reverse, sort, sortBy,
        first, last) joined the base environment at 1.34; a new expression on a 1.34 server is
        checked at compatibility version 1.33, without it."""
        return self.stored or _key(self.minor) >= (1, 35)

    @property
    def reads_lists(self) -> bool:
        """Whether a device's list attributes become CEL lists; otherwise a device with one fails
        every evaluation (``attribute X: unsupported attribute value``), as upstream's
        getAttributeValue: lists exist from 1.36, read only with the gate in 1.36, always in 1.37."""
        if _key(self.minor) < (1, 36):
            return False
        return self.list_type_attributes or _key(self.minor) >= (1, 37)

    @property
    def includes(self) -> bool:
        if _key(self.minor) < (1, 36):
            return False
        return self.stored or self.list_type_attributes

    @property
    def includes_limit(self) -> Optional[int]:
        """1.36's ``includes`` fails on lists longer than this; None: no limit."""
        return 48 if _key(self.minor) == (1, 36) else None

    @property
    def error_hint(self) -> bool:
        return _key(self.minor) >= (1, 37)


def environment(
    env_type: str = "stored",
    *,
    consumable_capacity: bool = True,
    list_type_attributes: bool = False,
    version: Any = None,
) -> CelEnvironment:
    """The environment for ``env_type`` ("stored"/"new"), from a ``dra.versions.KubernetesVersion``
    (its DRAConsumableCapacity and DRAListTypeAttributes gates) or a minor string, or from the
    two flags when no version is given (1.35 rules, 1.36 rules with list attributes)."""
    stored = env_type == "stored"
    if version is None:
        minor = "1.36" if list_type_attributes else LEGACY_MINOR
        return CelEnvironment(minor, stored, consumable_capacity, list_type_attributes)
    if isinstance(version, str):
        from dra.versions import KubernetesVersion

        version = KubernetesVersion.of(version)
    return CelEnvironment(
        version.minor,
        stored,
        version.enabled("DRAConsumableCapacity"),
        version.enabled("DRAListTypeAttributes"),
    )
