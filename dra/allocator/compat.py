"""1.37 compatibility groups (DRADeviceCompatibilityGroups, experimental variant only).

A device may only share a counter set with the devices already drawing from it (in use
elsewhere, or picked earlier in this attempt) when the ``compatibilityGroups`` declared on
their ``consumesCounters`` entries for that set intersect. A device that declares no groups
goes only with other devices that declare none. Upstream keeps, per (driver, pool) and
counter set, the running intersection (``compatibilityGroupIntersection``); this module is
that state, with the same quirks:

* the baseline from devices already in use is folded in without checking them against
  each other, so two in-use devices with disjoint groups leave an empty intersection that
  admits nothing more;
* an additional share of a multi-allocatable device already in use is not checked (the
  caller skips it together with the counter check).

Without the feature (every variant of 1.37) slices with groups are dropped while gathering
pools instead (:mod:`dra.allocator.pools`).
"""

from __future__ import annotations

from typing import Callable, Iterable

from dra.allocator.model import DeviceInfo

# An intersection: None = no device yet, ALL_EMPTY = only devices without groups so far,
# else the frozenset of groups every device so far declared (may be empty, see above).
ALL_EMPTY = "all-empty"
Intersection = frozenset[str] | str | None


def admits(cur: Intersection, groups: frozenset[str]) -> bool:
    if cur is None:
        return True
    if not groups:
        return cur == ALL_EMPTY
    if cur == ALL_EMPTY:
        return False
    return bool(cur & groups)  # type: ignore[operator]


def add(cur: Intersection, groups: frozenset[str]) -> Intersection:
    if cur is None:
        return groups if groups else ALL_EMPTY
    if cur == ALL_EMPTY or not groups:
        return cur
    return cur & groups  # type: ignore[operator]


class CompatGroups:
    """Running intersections of one allocation attempt, keyed by pool and counter set."""

    def __init__(self, in_use: Callable[[DeviceInfo], bool]) -> None:
        self._in_use = in_use
        self._baseline: dict[int, dict[str, Intersection]] = {}
        self._running: dict[int, dict[str, Intersection]] = {}

    def _baseline_for(self, pool_key: int, devices: Iterable[DeviceInfo]) -> dict[str, Intersection]:
        base = self._baseline.get(pool_key)
        if base is None:
            base = {}
            for d in devices:
                if not self._in_use(d):
                    continue
                for set_name, groups in d.compat_groups:
                    base[set_name] = add(base.get(set_name), groups)
            self._baseline[pool_key] = base
        return base

    def check_and_take(
        self, pool_key: int, pool_devices: Callable[[], Iterable[DeviceInfo]], device: DeviceInfo
    ) -> Callable[[], None] | None:
        """Fold ``device`` in and return how to undo it, or None (state unchanged) if refused."""
        running = self._running.setdefault(pool_key, {})
        baseline = self._baseline_for(pool_key, pool_devices())
        saved: list[tuple[str, Intersection, bool]] = []

        def restore() -> None:
            for set_name, prev, existed in reversed(saved):
                if existed:
                    running[set_name] = prev
                else:
                    running.pop(set_name, None)

        for set_name, groups in device.compat_groups:
            existed = set_name in running
            cur = running[set_name] if existed else baseline.get(set_name)
            if not admits(cur, groups):
                restore()
                return None
            saved.append((set_name, cur, existed))
            running[set_name] = add(cur, groups)
        return restore
