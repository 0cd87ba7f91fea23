"""Placement models, by name (``--placement NAME``).

============== ==========================================================================
device-plugin  (a) integer nvidia.com/gpu; a fraction takes a whole GPU
time-slicing   (b) N replicas per GPU (``--replicas``), nothing isolated
mig-single     (c) static MIG, single strategy (every MIG GPU cut into 1g slices)
mig-mixed      (c) static MIG, mixed strategy (balanced layout, one resource per profile)
dra            (d) DRA: one ResourceClaim per pod placed by dra.allocator on shared GPUs
dra-whole      (d) DRA with whole GPUs only (a fraction takes a whole device)
dra-extended   migration: pods keep ``nvidia.com/gpu: N``; every GPU node converted to DRA
               serves it through the DeviceClass's ``extendedResourceName`` (KEP-5004);
               ``dra-extended:F`` converts a fraction F in [0, 1] of the GPU nodes, the
               others keep the device plugin (:mod:`simulator.placement.migration`)
============== ==========================================================================

The DRA models follow the allocator of ``kubernetes_version`` (default 1.37) with
``feature_gates`` overrides, from the run's placement options; the others ignore both.

``device-plugin-noaffinity`` is (a) with pods that carry no node affinity (their model and
GPU-memory constraints dropped): the one model where *wrong-model* placements can happen.
"""

from __future__ import annotations

from typing import Any

from simulator.errors import UnknownNameError
from simulator.placement.base import Placement
from simulator.placement.deviceplugin import IntegerDevicePlugin
from simulator.placement.mig import StaticMigDevicePlugin
from simulator.placement.timeslicing import TimeSlicingDevicePlugin


def version_options(options: dict[str, Any]) -> dict[str, Any]:
    """``kubernetes_version`` (a minor, default 1.37) and ``feature_gates`` (a mapping or
    (name, bool) pairs) from the run's placement options, for the models that read them."""
    return {"kubernetes_version": str(options.get("kubernetes_version") or "1.37"),
            "feature_gates": dict(options.get("feature_gates") or ())}


# ``dra-extended`` also takes a fraction of converted nodes as ``dra-extended:F``.
PLACEMENTS = ["device-plugin", "device-plugin-noaffinity", "time-slicing", "mig-single", "mig-mixed", "dra", "dra-whole",
              "dra-extended"]


def get_placement(name: str, **options: Any) -> Placement:
    key = name.strip().lower()
    if key == "device-plugin":
        return IntegerDevicePlugin(node_affinity=bool(options.get("node_affinity", True)))
    if key == "device-plugin-noaffinity":
        return IntegerDevicePlugin(node_affinity=False)
    if key == "time-slicing":
        return TimeSlicingDevicePlugin(int(options.get("replicas", 4)))
    if key in ("mig-single", "mig-mixed"):
        return StaticMigDevicePlugin(key.split("-")[1], float(options.get("mig_fraction", 0.5)))
    if key in ("dra", "dra-whole"):
        from simulator.placement.dra import DraPlacement

        return DraPlacement(
            mode="shared" if key == "dra" else "whole",
            device_choice=str(options.get("device_choice", "policy")),
            verify=bool(options.get("verify", True)),
            sharing=str(options.get("sharing", "mps")),
            **version_options(options),
        )
    base, sep, fraction = key.partition(":")
    if base == "dra-extended":
        from simulator.placement.migration import DraMigrationPlacement, parse_fraction

        value = parse_fraction(fraction, name) if sep else float(options.get("dra_node_fraction", 1.0))
        return DraMigrationPlacement(
            fraction=value,
            device_choice=str(options.get("device_choice", "policy")),
            verify=bool(options.get("verify", True)),
            sharing=str(options.get("sharing", "mps")),
            **version_options(options),
        )
    raise UnknownNameError("placement", name, PLACEMENTS)


__all__ = ["PLACEMENTS", "Placement", "get_placement"]
