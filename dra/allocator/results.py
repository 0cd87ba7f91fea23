"""Turning a found solution into ``AllocationResult`` objects (upstream §5.9).

* ``devices.results``: in allocation order, with the (sub-)request's tolerations copied in,
  binding conditions copied from the device when DeviceBindingAndStatus is on, and for
  multi-allocatable devices the share ID and the consumed capacity.
* ``devices.config``: first the class configs (one entry per class config, listing every
  request that used the class), then the claim configs that apply to the allocated
  requests (1.35 appends a config once per request it names).
* ``nodeSelector``: pinned to the node when a chosen device is node-local or binds to the
  node; otherwise the merged single term of all node selectors; absent when the devices
  are usable everywhere.
"""

from __future__ import annotations

from typing import Any

from dra.allocator.errors import AllocationError
from dra.allocator.requests import ClaimPlan, claim_configs, claim_requests
from dra.allocator.search import Chosen


def result_dict(plan: ClaimPlan, chosen: list[Chosen], selected_sub: dict[tuple[int, int], int],
                node_name: str, binding: bool, *, compact_config: bool = False,
                tolerations: bool = True, skip_node_operations: bool = False) -> dict[str, Any]:
    """Kubernetes-JSON form of one claim's AllocationResult."""
    results = []
    for c in chosen:
        rd = c.request
        dev = c.device
        entry: dict[str, Any] = {
            "request": rd.full_name,
            "driver": dev.id.driver,
            "pool": dev.id.pool,
            "device": dev.id.device,
        }
        if rd.admin:
            entry["adminAccess"] = True
        if tolerations and rd.tolerations:  # 1.34 results carry no tolerations
            entry["tolerations"] = [t.to_dict() for t in rd.tolerations]
        if binding:
            if dev.binding_conditions:
                entry["bindingConditions"] = list(dev.binding_conditions)
            if dev.binding_failure_conditions:
                entry["bindingFailureConditions"] = list(dev.binding_failure_conditions)
        if c.share_id is not None:
            entry["shareID"] = c.share_id
        if c.consumed:
            entry["consumedCapacity"] = {k: str(v) for k, v in c.consumed.items()}
        if skip_node_operations and dev.slice.skip_node_operations:  # 1.37 experimental copies them
            entry["skipNodeOperations"] = list(dev.slice.skip_node_operations)
        results.append(entry)

    devices: dict[str, Any] = {"results": results}
    config = _configs(plan, selected_sub)
    if compact_config:
        _clear_all_request_lists(plan, selected_sub, config)
    if config:
        devices["config"] = config
    out: dict[str, Any] = {"devices": devices}
    selector = node_selector(chosen, node_name, plan.key)
    if selector is not None:
        out["nodeSelector"] = selector
    return out


def _selected(plan: ClaimPlan, ri: int, selected_sub: dict[tuple[int, int], int]):
    entries = plan.requests[ri]
    if entries[0].parent is None:
        return entries[0]
    return entries[selected_sub.get((plan.index, ri), 0)]


def _configs(plan: ClaimPlan, selected_sub: dict[tuple[int, int], int]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    by_class: dict[str, tuple[int, int]] = {}
    for ri in range(len(plan.requests)):
        rd = _selected(plan, ri, selected_sub)
        cls = rd.device_class
        if cls is None:
            continue
        name = rd.class_name
        if name in by_class:
            start, end = by_class[name]
            for i in range(start, end):
                out[i]["requests"].append(rd.full_name)
            continue
        start = len(out)
        for cfg in getattr(cls.spec, "config", None) or []:
            entry: dict[str, Any] = {"source": "FromClass", "requests": [rd.full_name]}
            if cfg.opaque is not None:
                entry["opaque"] = cfg.opaque.to_dict()
            out.append(entry)
        by_class[name] = (start, len(out))

    requests = claim_requests(plan.claim)
    for cfg in claim_configs(plan.claim):
        names = list(cfg.requests or [])
        body: dict[str, Any] = {"source": "FromClaim"}
        if cfg.requests is not None:
            body["requests"] = names
        if cfg.opaque is not None:
            body["opaque"] = cfg.opaque.to_dict()
        if not names:
            out.append(dict(body))
            continue
        for ri, request in enumerate(requests):
            if request.name in names:
                out.append(_copy(body))
                continue
            entries = plan.requests[ri]
            if entries[0].parent is None:
                continue
            rd = _selected(plan, ri, selected_sub)
            if rd.full_name in names:
                out.append(_copy(body))
    return out


def _clear_all_request_lists(plan: ClaimPlan, selected_sub: dict[tuple[int, int], int],
                             config: list[dict[str, Any]]) -> None:
    """1.37 (k/k #139731): a config that names every request of the claim (the request or
    its chosen subrequest) gets no ``requests`` list at all: empty means all."""
    requests = claim_requests(plan.claim)
    for entry in config:
        names = entry.get("requests")
        if not names:
            continue
        for ri, request in enumerate(requests):
            if request.name in names:
                continue
            entries = plan.requests[ri]
            if entries[0].parent is not None and _selected(plan, ri, selected_sub).full_name in names:
                continue
            break
        else:
            del entry["requests"]


def _copy(body: dict[str, Any]) -> dict[str, Any]:
    out = dict(body)
    if "requests" in out:
        out["requests"] = list(out["requests"])
    return out


def node_selector(chosen: list[Chosen], node_name: str, claim: str) -> dict[str, Any] | None:
    fields: list[dict[str, Any]] = []
    exprs: list[dict[str, Any]] = []
    for c in chosen:
        dev = c.device
        name, _all_nodes, selector = dev.node_fields()
        if name is not None or dev.binds_to_node:
            return {
                "nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}
                ]
            }
        if selector is None:
            continue
        terms = selector.node_selector_terms or []
        if len(terms) == 0:
            continue
        if len(terms) > 1:
            raise AllocationError(
                f"create NodeSelector for claim {claim}: unsupported ResourceSlice.NodeSelector "
                f"with {len(terms)} terms"
            )
        _merge(terms[0].match_fields or [], fields)
        _merge(terms[0].match_expressions or [], exprs)
    if not fields and not exprs:
        return None
    term: dict[str, Any] = {}
    if exprs:
        term["matchExpressions"] = exprs
    if fields:
        term["matchFields"] = fields
    return {"nodeSelectorTerms": [term]}


def _merge(reqs: list[Any], into: list[dict[str, Any]]) -> None:
    for r in reqs:
        values = list(r.values or [])
        if any(
            have["key"] == r.key and have["operator"] == r.operator
            and set(have.get("values", [])) == set(values)
            for have in into
        ):
            continue
        item: dict[str, Any] = {"key": r.key, "operator": r.operator}
        if values:
            item["values"] = values
        into.append(item)
