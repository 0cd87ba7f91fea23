"""What is already in use before an allocation attempt.

Mirrors upstream ``AllocatedState``: ``devices`` are devices given to other, already
allocated claims (dedicated use); ``capacity`` is the capacity already consumed on
multi-allocatable devices (device -> capacity name -> quantity). ``shared_devices`` lists
devices that hold at least one share (upstream ``AllocatedSharedDeviceIDs``). Which of them hold
the shared counters they consume depends on the minor (``Allocator._holding_counters``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from dra.api import DeviceID, Quantity


@dataclass
class AllocatedState:
    devices: set[DeviceID] = field(default_factory=set)
    capacity: dict[DeviceID, dict[str, Quantity]] = field(default_factory=dict)
    shared_devices: set[DeviceID] = field(default_factory=set)

    def is_allocated(self, device: DeviceID) -> bool:
        """In use in any way (dedicated or by a share)."""
        return device in self.devices or device in self.capacity or device in self.shared_devices

    @classmethod
    def from_claims(cls, claims: Iterable[object]) -> "AllocatedState":
        """Collect the state from claims that carry ``status.allocation``.

        Admin-access results do not make a device busy (as in the scheduler); results
        with a share ID add their consumed capacity instead of taking the device.
        """
        state = cls()
        for claim in claims:
            status = getattr(claim, "status", None)
            allocation = getattr(status, "allocation", None) if status else None
            devices = getattr(allocation, "devices", None) if allocation else None
            for result in (getattr(devices, "results", None) or []) if devices else []:
                state.add_result(result)
        return state

    def add_result(self, result: object) -> None:
        """Account one DeviceRequestAllocationResult."""
        dev = DeviceID(result.driver, result.pool, result.device)  # type: ignore[attr-defined]
        if getattr(result, "admin_access", None):
            return
        if getattr(result, "share_id", None):
            self.shared_devices.add(dev)
            consumed: Mapping[str, Quantity] = getattr(result, "consumed_capacity", None) or {}
            per_device = self.capacity.setdefault(dev, {})
            for name, q in consumed.items():
                per_device[name] = per_device[name] + q if name in per_device else q
            return
        self.devices.add(dev)

    def copy(self) -> "AllocatedState":
        return AllocatedState(
            set(self.devices),
            {k: dict(v) for k, v in self.capacity.items()},
            set(self.shared_devices),
        )
