"""Inventory -> the ResourceSlices of one node's pool. Pure and deterministic.

``build_slices(inventory, mode=..., k8s_version=..., generation=...)`` returns every slice of
the pool named after the node, each with ``spec.nodeName`` set, the same pool generation and
``resourceSliceCount`` equal to the number of slices returned. What each mode publishes is
described in :mod:`dra.slices.devices`; how devices are split into slices within the API
limits of 1.34 and 1.35 in :mod:`dra.slices.layout`; attribute names in
:mod:`dra.slices.attributes`.

Slice names are ``<k in base 16, 5+ digits>-<driver>-<node>`` (:mod:`dra.slices.naming`): their
lexical order is the slices' order, which Kubernetes 1.36+ allocates in. The publisher creates
them with the same prefix and a random suffix; consumers identify devices by (driver, pool, device).

Pool generations: a pool's consumers use only the slices of its highest generation, so the
generation must grow whenever the published content changes. :func:`next_generation` says
which generation a rebuilt pool needs, given what was published before, and
:class:`PoolGenerations` keeps that bookkeeping for a driver that rebuilds its pools.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any, Mapping, Sequence

from dra.api import DeviceTaint, ObjectMeta, ResourcePool, ResourceSlice, ResourceSliceSpec
from dra.errors import UserError
from dra.slices.fast import constructor
from dra.gpu.inventory import NodeInventory
from dra.slices.devices import BUILDERS, MODES, apply_taints, apply_version_shape
from dra.slices.layout import LIMITS, pack
from dra.slices.naming import slice_name
from dra.slices.overhead import Overheads, overhead_blocker
from dra.versions import SUPPORTED_MINORS, KubernetesVersion, parse_minor

from dra.slices import DRIVER_NAME  # noqa: E402  (one definition)
K8S_VERSIONS = SUPPORTED_MINORS
API_VERSION = "resource.k8s.io/v1"

_make_slice = constructor(ResourceSlice)
_make_spec = constructor(ResourceSliceSpec)
_make_pool = constructor(ResourcePool)
_make_meta = constructor(ObjectMeta)


class SliceBuildError(UserError):
    """Bad arguments to the slice builder (mode, version, generation)."""


@lru_cache(maxsize=64)
def limits_version(k8s_version: str) -> str:
    """The API-validation rule family, ``1.34`` or ``1.35`` (later minors follow 1.35 here), of ``v1.35.2`` etc."""
    m = re.match(r"^v?(\d+)\.(\d+)", str(k8s_version).strip())
    if not m:
        raise SliceBuildError(f"--k8s-version: not a Kubernetes version: {k8s_version!r} (1.34 to 1.37)")
    major, minor = int(m[1]), int(m[2])
    if (major, minor) < (1, 34):
        raise SliceBuildError(
            f"--k8s-version: {k8s_version} does not serve resource.k8s.io/v1 (1.34 or newer needed)"
        )
    return "1.34" if (major, minor) == (1, 34) else "1.35"


def layout_version(k8s_version: str) -> str:
    """The minor (1.34 .. 1.37, :mod:`dra.versions`) whose slice layout limits apply."""
    limits_version(k8s_version)  # the resource.k8s.io/v1 floor, with its own message
    return parse_minor(k8s_version, option="--kubernetes-version")


def build_slices(
    inventory: NodeInventory,
    *,
    mode: str = "whole",
    k8s_version: str = "1.35",
    driver: str = DRIVER_NAME,
    generation: int = 1,
    taints: Mapping[str, Sequence[DeviceTaint]] | None = None,
    gates: Mapping[str, bool] | None = None,
    overheads: Overheads | None = None,
) -> list[ResourceSlice]:
    """The ResourceSlices that publish ``inventory`` in ``mode`` for ``k8s_version``.

    ``taints`` maps a device name (``gpu-3``) or a GPU UUID (all devices of that GPU) to the
    taints to publish on those devices. ``gates`` changes the version's default feature gates
    (``DRAListTypeAttributes``: ``numaNode`` as a one-element list). ``overheads`` (device type
    -> resource -> value, :func:`dra.slices.overhead.parse_overhead`) is published as
    ``nodeAllocatableResources`` only where the version and gates have it
    (:func:`dra.slices.overhead.overhead_blocker`; elsewhere it is left out).
    """
    if mode not in BUILDERS:
        raise SliceBuildError(f"--mode: unknown mode {mode!r} (one of {', '.join(MODES)})")
    if not isinstance(generation, int) or isinstance(generation, bool) or generation < 0:
        raise SliceBuildError(f"generation: must be a non-negative integer, got {generation!r}")
    if not inventory.node_name:
        raise SliceBuildError("inventory: node name is empty (the pool is named after the node)")
    limits = LIMITS[layout_version(k8s_version)]
    make = BUILDERS[mode]
    groups = [make(gpu) for gpu in sorted(inventory.gpus, key=lambda g: g.minor)]
    if taints:
        apply_taints(groups, taints)
    version = KubernetesVersion.of(layout_version(k8s_version), gates)
    list_numa = bool(version.gates.get("DRAListTypeAttributes"))
    publish_overheads = overheads if overheads and overhead_blocker(version) is None else None
    if list_numa or publish_overheads:
        apply_version_shape(groups, list_numa=list_numa, overheads=publish_overheads)
    contents = pack(groups, limits)
    node = inventory.node_name
    count = len(contents)
    slices = []
    for k, content in enumerate(contents):
        spec = _make_spec(
            driver=driver,
            pool=_make_pool(name=node, generation=generation, resource_slice_count=count),
            node_name=node,
            devices=content.devices if content.devices or not content.counter_sets else None,
            shared_counters=content.counter_sets or None,
        )
        slices.append(
            _make_slice(
                api_version=API_VERSION,
                kind="ResourceSlice",
                metadata=_make_meta(name=slice_name(k, count, driver, node)),
                spec=spec,
            )
        )
    return slices


# ---------------------------------------------------------------------------------------
# generations


def _content_key(slices: Sequence[ResourceSlice]) -> str:
    """What the pool publishes, independent of generation and object metadata."""
    specs = []
    for s in slices:
        spec: dict[str, Any] = s.spec.to_dict()  # type: ignore[union-attr]
        spec.get("pool", {}).pop("generation", None)
        specs.append(spec)
    return json.dumps(specs, sort_keys=True)


def next_generation(previous: Sequence[ResourceSlice], desired: Sequence[ResourceSlice]) -> int:
    """The generation ``desired`` must carry: unchanged content keeps the old generation,
    any change (devices, attributes, counters, slice count) takes the next one."""
    if not previous:
        return max((s.spec.pool.generation for s in desired), default=1)  # type: ignore[union-attr]
    old = max(s.spec.pool.generation for s in previous)  # type: ignore[union-attr]
    return old if _content_key(previous) == _content_key(desired) else old + 1


def with_generation(slices: Sequence[ResourceSlice], generation: int) -> list[ResourceSlice]:
    out = []
    for s in slices:
        pool = s.spec.pool.model_copy(update={"generation": generation})  # type: ignore[union-attr]
        spec = s.spec.model_copy(update={"pool": pool})  # type: ignore[union-attr]
        out.append(s.model_copy(update={"spec": spec}))
    return out


class PoolGenerations:
    """Remembers what each pool last published and stamps rebuilt pools with the right generation."""

    def __init__(self) -> None:
        self._last: dict[str, list[ResourceSlice]] = {}

    def stamp(self, slices: Sequence[ResourceSlice]) -> list[ResourceSlice]:
        if not slices:
            return []
        pool = slices[0].spec.pool.name  # type: ignore[union-attr]
        gen = next_generation(self._last.get(pool, []), slices)
        stamped = with_generation(slices, gen)
        self._last[pool] = stamped
        return stamped
