"""NVLink topology: peer groups and the fleet-unique NVLink-domain ids we publish.

NVIDIA's driver publishes no intra-node NVLink information (its issue #214), so a claim
cannot ask for "4 GPUs that talk over NVLink". We publish an ``nvlinkDomain`` string
attribute that is equal for GPUs joined by NVLink and unique across the fleet, so that
``constraints: [{matchAttribute: gpu.nvidia.com/nvlinkDomain}]`` does the job.

* On multi-node NVLink platforms (GB200 NVL72) the domain is NVIDIA's clique id,
  ``<clusterUUID>.<cliqueId>`` (what the ComputeDomain driver and GFD's
  ``nvidia.com/gpu.clique`` label use): GPUs of different trays in one rack share it.
* Otherwise it is ``<node>-nvl<k>`` for the k-th NVLink peer group of the node (groups
  ordered by their lowest GPU index). A GPU without NVLink is a group of its own, so a
  one-GPU request with the constraint still fits it while a multi-GPU one does not.

Attribute strings are limited to 64 characters; long node names are shortened with a hash
so that the value stays unique.
"""

from __future__ import annotations

import hashlib
from typing import Iterable, Sequence

MAX_ATTRIBUTE_LENGTH = 64


def groups_from_links(indexes: Sequence[int], links: Iterable[tuple[int, int]]) -> list[tuple[int, ...]]:
    """Connected components of the NVLink graph (union-find), each sorted, ordered by min."""
    parent = {i: i for i in indexes}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in links:
        if a in parent and b in parent:
            ra, rb = root(a), root(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for i in indexes:
        groups.setdefault(root(i), []).append(i)
    return sorted((tuple(sorted(g)) for g in groups.values()), key=lambda g: g[0])


def _bounded(value: str) -> str:
    if len(value) <= MAX_ATTRIBUTE_LENGTH:
        return value
    digest = hashlib.sha1(value.encode()).hexdigest()[:12]
    return f"{value[: MAX_ATTRIBUTE_LENGTH - 13]}-{digest}"


def node_domain_ids(node_name: str, groups: Sequence[Sequence[int]]) -> dict[int, str]:
    """GPU index -> ``<node>-nvl<k>`` for every GPU in ``groups`` (singletons included)."""
    out: dict[int, str] = {}
    for k, group in enumerate(sorted(groups, key=lambda g: min(g))):
        domain = _bounded(f"{node_name}-nvl{k}")
        for index in group:
            out[index] = domain
    return out


def fabric_domain_id(cluster_uuid: str, clique_id: str | int) -> str:
    return _bounded(f"{cluster_uuid}.{clique_id}")


def with_singletons(indexes: Sequence[int], groups: Iterable[Sequence[int]]) -> list[tuple[int, ...]]:
    """``groups`` plus a one-GPU group for every index not in any of them."""
    seen: set[int] = set()
    out = []
    for g in groups:
        out.append(tuple(sorted(g)))
        seen.update(g)
    out.extend((i,) for i in indexes if i not in seen)
    return sorted(out, key=lambda g: g[0])
