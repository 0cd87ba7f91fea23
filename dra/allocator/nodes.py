"""Does a ResourceSlice (or a device with per-device node selection) target a node?

Same rules as upstream ``nodeMatches``: a non-empty ``nodeName`` must equal the node's
name; ``allNodes`` matches every node; a ``nodeSelector`` is core/v1 node-affinity
matching (terms ORed, requirements inside a term ANDed, ``matchExpressions`` on labels,
``matchFields`` on ``metadata.name``). A missing node never matches a name or selector.
A selector that cannot be parsed is an error, as in ``nodeaffinity.NewNodeSelector``.
"""

from __future__ import annotations

from typing import Any

from dra.allocator.errors import AllocationError


class NodeView:
    """The parts of a Node that node selection looks at."""

    __slots__ = ("name", "labels", "declared_features")

    def __init__(self, name: str, labels: dict[str, str] | None,
                 declared_features: tuple[str, ...] = ()) -> None:
        self.name = name
        self.labels = dict(labels or {})
        # status.declaredFeatures (1.37: DRAOptionalNodeOperations lets devices skip node calls)
        self.declared_features = tuple(declared_features)

    @classmethod
    def of(cls, node: Any | None) -> "NodeView | None":
        if node is None:
            return None
        meta = getattr(node, "metadata", None)
        name = getattr(meta, "name", None) or ""
        labels = getattr(meta, "labels", None) or {}
        status = getattr(node, "status", None)
        declared = (status.get("declaredFeatures") if isinstance(status, dict) else None) or ()
        return cls(name, labels, tuple(str(f) for f in declared))

    def key(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        return (self.name, tuple(sorted(self.labels.items())))


def node_matches(
    node: NodeView | None, node_name: str | None, all_nodes: bool | None, selector: Any | None
) -> bool:
    if node_name:
        return node is not None and node.name == node_name
    if all_nodes:
        return True
    if selector is not None:
        return selector_matches(node, selector)
    return False


def selector_matches(node: NodeView | None, selector: Any) -> bool:
    """Evaluate a core/v1 NodeSelector (raises AllocationError if it cannot be parsed)."""
    terms = getattr(selector, "node_selector_terms", None) or []
    _validate(selector, terms)
    if node is None:
        return False
    for term in terms:
        exprs = getattr(term, "match_expressions", None) or []
        flds = getattr(term, "match_fields", None) or []
        if not exprs and not flds:
            continue  # an empty term matches nothing
        if all(_label_requirement(node.labels, r) for r in exprs) and all(
            _field_requirement(node, r) for r in flds
        ):
            return True
    return False


def _validate(selector: Any, terms: list[Any]) -> None:
    problems: list[str] = []
    for ti, term in enumerate(terms):
        for ri, req in enumerate(getattr(term, "match_expressions", None) or []):
            msg = _check_label_requirement(req)
            if msg:
                problems.append(f"nodeSelectorTerms[{ti}].matchExpressions[{ri}]: {msg}")
        for ri, req in enumerate(getattr(term, "match_fields", None) or []):
            msg = _check_field_requirement(req)
            if msg:
                problems.append(f"nodeSelectorTerms[{ti}].matchFields[{ri}]: {msg}")
    if problems:
        raise AllocationError(f"failed to parse node selector: {'; '.join(problems)}")


def _check_label_requirement(req: Any) -> str | None:
    op = req.operator
    values = req.values or []
    if op in ("In", "NotIn"):
        return None if values else f"values must be non-empty for operator {op}"
    if op in ("Exists", "DoesNotExist"):
        return None if not values else f"values must be empty for operator {op}"
    if op in ("Gt", "Lt"):
        if len(values) != 1:
            return f"exactly one value is required for operator {op}"
        try:
            int(values[0])
        except ValueError:
            return f"value {values[0]!r} must be an integer for operator {op}"
        return None
    return f"{op!r} is not a valid node selector operator"


def _check_field_requirement(req: Any) -> str | None:
    if req.key != "metadata.name":
        return f"field key {req.key!r} is not supported (only metadata.name)"
    if req.operator not in ("In", "NotIn"):
        return f"{req.operator!r} is not a valid field selector operator"
    if len(req.values or []) != 1:
        return "exactly one value is required for a metadata.name field selector"
    return None


def _label_requirement(labels: dict[str, str], req: Any) -> bool:
    op = req.operator
    present = req.key in labels
    value = labels.get(req.key)
    values = req.values or []
    if op == "In":
        return present and value in values
    if op == "NotIn":
        return not present or value not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if not present:
        return False
    try:
        have = int(value or "")
    except ValueError:
        return False
    want = int(values[0])
    return have > want if op == "Gt" else have < want


def _field_requirement(node: NodeView, req: Any) -> bool:
    inside = node.name in (req.values or [])
    return inside if req.operator == "In" else not inside
