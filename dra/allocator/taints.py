"""Device taints and request tolerations (DRADeviceTaints).

Only the effects ``NoSchedule`` and ``NoExecute`` keep a device from being allocated;
``None`` and unknown effects are informational (1.35). A toleration matches a taint when
its effect is empty or equal, its key is empty or equal, and its operator is ``Exists``,
or ``Equal``/empty with equal values (upstream ``resourceclaim.ToleratesTaint``).
"""

from __future__ import annotations

from typing import Any, Sequence

BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")


def tolerates(toleration: Any, taint: Any) -> bool:
    if toleration.effect and toleration.effect != taint.effect:
        return False
    if toleration.key and toleration.key != taint.key:
        return False
    op = toleration.operator or "Equal"
    if op == "Exists":
        return True
    if op == "Equal":
        return (toleration.value or "") == (taint.value or "")
    return False


def blocking_taint(
    taints: Sequence[Any], tolerations: Sequence[Any] | None, *, any_effect: bool = False
) -> Any | None:
    """The first taint that prevents allocation, or None (``any_effect``: 1.34, where
    every taint must be tolerated whatever its effect)."""
    for taint in taints:
        if (any_effect or taint.effect in BLOCKING_EFFECTS) and not any(
            tolerates(t, taint) for t in (tolerations or ())
        ):
            return taint
    return None
