"""Profiles from YAML files: a node shape, or an inventory recorded on a real node.

Two forms are accepted (see :mod:`dra.gpu.builtin` for the shape keys):

* a shape -- ``model``, ``count``, ``nvlink``, ``numaNodes``, ``migLayout``, ``migEnabled``,
  ``driverVersion``, ``cudaDriverVersion``, ``fabric`` -- built with
  :func:`dra.gpu.builtin.build_node`;
* a recorded inventory (a mapping with ``gpus:``, as ``dra inventory -o yaml`` writes it),
  loaded as is and moved to the requested node name (NVLink domain ids follow the node).

Every mistake is a :class:`~dra.gpu.builtin.ProfileError` naming the file (and line for YAML
syntax errors) and the field.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping

import yaml

from dra.errors import UserError
from dra.gpu.builtin import (
    DEFAULT_CUDA_DRIVER_VERSION,
    DEFAULT_DRIVER_VERSION,
    Fabric,
    ProfileError,
    build_node,
)
from dra.gpu.inventory import InventoryError, NodeInventory
from dra.gpu.topology import node_domain_ids, with_singletons

_SHAPE_KEYS = {"model", "count", "nvlink", "numaNodes", "migLayout", "migEnabled", "driverVersion",
               "cudaDriverVersion", "fabric", "nodeName"}


def load_profile_file(path: Path, node_name: str) -> NodeInventory:
    try:
        text = path.read_text()
    except OSError as err:
        raise ProfileError(f"{path}: cannot read profile ({err.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ProfileError(f"{where}: invalid YAML ({getattr(err, 'problem', err)})") from None
    if not isinstance(data, Mapping):
        raise ProfileError(f"{path}: a profile must be a mapping")
    if "gpus" in data:
        try:
            inv = NodeInventory.from_dict(data)
        except InventoryError as err:
            raise ProfileError(f"{path}: {err}") from None
        return _renamed(inv, node_name)
    return _shape_from_dict(data, node_name, str(path))


def _shape_from_dict(data: Mapping[str, Any], node_name: str, where: str) -> NodeInventory:
    for key in data:
        if key not in _SHAPE_KEYS:
            raise ProfileError(f"{where}: {key}: unknown field (known: {', '.join(sorted(_SHAPE_KEYS))})")
    if "model" not in data:
        raise ProfileError(f"{where}: model: required")
    count = data.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ProfileError(f"{where}: count: expected a non-negative integer, got {count!r}")
    numa = data.get("numaNodes", 2)
    if not isinstance(numa, int) or isinstance(numa, bool) or numa < 1:
        raise ProfileError(f"{where}: numaNodes: expected a positive integer, got {numa!r}")
    nvlink = data.get("nvlink")
    if nvlink is not None and not isinstance(nvlink, str) and not (
        isinstance(nvlink, list) and all(isinstance(g, list) and all(isinstance(i, int) and not isinstance(i, bool)
                                                                    for i in g) for g in nvlink)
    ):
        raise ProfileError(f"{where}: nvlink: expected switch, mesh, pairs, fabric, none or a list of GPU index"
                           f" lists, got {nvlink!r}")
    fabric = None
    if data.get("fabric") is not None:
        raw = data["fabric"]
        if not isinstance(raw, Mapping) or "clusterUUID" not in raw or "cliqueId" not in raw:
            raise ProfileError(f"{where}: fabric: expected {{clusterUUID: ..., cliqueId: ...}}")
        fabric = Fabric(cluster_uuid=str(raw["clusterUUID"]), clique_id=str(raw["cliqueId"]))
    try:
        return build_node(
            str(data["model"]), count, node_name,
            nvlink=data.get("nvlink"), numa_nodes=numa, mig_layout=data.get("migLayout"),
            mig_enabled=bool(data["migEnabled"]) if "migEnabled" in data else None,
            fabric=fabric,
            driver_version=str(data.get("driverVersion", DEFAULT_DRIVER_VERSION)),
            cuda_driver_version=str(data.get("cudaDriverVersion", DEFAULT_CUDA_DRIVER_VERSION)),
            source=f"file:{where}",
        )
    except UserError as err:
        raise ProfileError(f"{where}: {err}") from None


def _renamed(inv: NodeInventory, node_name: str) -> NodeInventory:
    """A recorded inventory moved to another node name (domains follow the node)."""
    if not node_name or node_name == inv.node_name:
        return inv
    indexes = [g.index for g in inv.gpus]
    domains = node_domain_ids(node_name, with_singletons(indexes, inv.nvlink_groups))
    gpus = tuple(
        replace(g, nvlink_domain=g.nvlink_domain if g.fabric_clique else domains[g.index])
        for g in inv.gpus
    )
    return replace(inv, node_name=node_name, gpus=gpus)
