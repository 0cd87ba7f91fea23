"""Validation pieces shared by several kinds: metadata, node selectors, lists and sets, taints
and tolerations, binding conditions, opaque JSON, CEL expressions (length + optional hook)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable, Optional, Sequence, TypeVar

from dra.api.errors import FieldError
from dra.api.meta import NodeSelector, ObjectMeta
from dra.api.validation.errs import (
    child,
    duplicate,
    forbidden,
    index,
    invalid,
    key,
    not_supported,
    required,
    too_long,
    too_many,
)
from dra.api.validation.names import (
    is_dns1123_subdomain,
    validate_dns_label,
    validate_dns_subdomain,
    validate_label_name,
    validate_label_value,
)
from dra.errors import UserError
from dra.versions import KubernetesVersion

T = TypeVar("T")

CEL_SELECTOR_EXPRESSION_MAX_LENGTH = 10 * 1024
OPAQUE_PARAMETERS_MAX_LENGTH = 10240
BINDING_CONDITIONS_MAX = 4
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024

CelCheck = Callable[[str, str], Optional[Iterable[FieldError]]]
"""Hook ``cel_check(expression, path)``: return field errors (or raise a UserError) for an
expression that does not compile or is too costly.  dra.cel provides one; dra.api cannot
import it (layering)."""


@dataclass(frozen=True)
class Options:
    """What the caller asked for: API version rules, CEL hook, stored (skip CEL) mode.

    ``version`` carries the minor and its effective feature gates; when absent it is the
    default-gate version of ``k8s_version``.
    """

    k8s_version: str = "1.35"
    cel_check: Optional[CelCheck] = None
    stored: bool = False
    version: Optional[KubernetesVersion] = None

    @property
    def kv(self) -> KubernetesVersion:
        return self.version if self.version is not None else KubernetesVersion.of(self.k8s_version)

    @property
    def minor(self) -> str:
        return self.kv.minor

    def at_least(self, minor: str) -> bool:
        return self.kv.at_least(minor)

    def enabled(self, gate: str) -> bool:
        return self.kv.enabled(gate)

    @property
    def is_134(self) -> bool:
        return self.k8s_version.startswith("1.34")

    @property
    def taint_effects(self) -> tuple[str, ...]:
        # sets.List order (sorted); "None" exists from 1.35 on.
        return ("NoExecute", "NoSchedule") if self.is_134 else ("NoExecute", "NoSchedule", "None")


def validate_list(
    items: Optional[Sequence[T]],
    limit: int,
    each: Callable[[T, str], list[FieldError]],
    path: str,
    key_of: Optional[Callable[[T], Hashable]] = None,
) -> list[FieldError]:
    """upstream validateSlice / validateSet: size first (short-circuit), items, duplicates."""
    items = items or []
    if limit >= 0 and len(items) > limit:
        return [too_many(path, len(items), limit)]
    errs: list[FieldError] = []
    for i, item in enumerate(items):
        errs.extend(each(item, index(path, i)))
    if key_of is not None:
        seen: set[Hashable] = set()
        for i, item in enumerate(items):
            k = key_of(item)
            if k in seen:
                errs.append(duplicate(index(path, i), k))
            else:
                seen.add(k)
    return errs


def no_check(_: Any, __: str) -> list[FieldError]:
    return []


# -- metadata ------------------------------------------------------------------------------


def validate_object_meta(
    meta: Optional[ObjectMeta], path: str = "metadata", *, namespaced: bool = False
) -> list[FieldError]:
    """ValidateObjectMeta for creation: a DNS-subdomain name (or generateName), labels,
    annotations.  A missing namespace is not an error here: kubectl fills in the default."""
    meta = meta or ObjectMeta()
    errs: list[FieldError] = []
    if not meta.name and not meta.generate_name:
        errs.append(required(child(path, "name"), "name or generateName is required"))
    if meta.name:
        errs.extend(validate_dns_subdomain(meta.name, child(path, "name")))
    if meta.generate_name:
        # Prefix rules: a trailing '-' is allowed (a random suffix follows).
        prefix = meta.generate_name[:-1] if meta.generate_name.endswith("-") else meta.generate_name
        errs.extend(
            invalid(child(path, "generateName"), meta.generate_name, m)
            for m in is_dns1123_subdomain(prefix)
        )
    if meta.namespace:
        if not namespaced:
            errs.append(forbidden(child(path, "namespace"), "not allowed on this type"))
        else:
            errs.extend(validate_dns_label(meta.namespace, child(path, "namespace")))
    errs.extend(validate_labels(meta.labels, child(path, "labels")))
    errs.extend(validate_annotations(meta.annotations, child(path, "annotations")))
    return errs


def validate_labels(labels: Optional[dict[str, str]], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for k, v in (labels or {}).items():
        errs.extend(validate_label_name(k, path))
        errs.extend(validate_label_value(v, path))
    return errs


def validate_annotations(annotations: Optional[dict[str, str]], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    total = 0
    for k, v in (annotations or {}).items():
        errs.extend(validate_label_name(k.lower(), path))
        total += len(k) + len(v)
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


_TEMPLATE_META_ALLOWED = {"labels", "annotations"}


def validate_template_object_meta(meta: Optional[ObjectMeta], path: str) -> list[FieldError]:
    """ResourceClaimTemplate ``spec.metadata``: only labels and annotations may be set."""
    if meta is None:
        return []
    errs = validate_labels(meta.labels, child(path, "labels"))
    errs.extend(validate_annotations(meta.annotations, child(path, "annotations")))
    for name, info in ObjectMeta.model_fields.items():
        alias = info.alias or name
        if alias not in _TEMPLATE_META_ALLOWED and getattr(meta, name) is not None:
            errs.append(forbidden(child(path, alias), "cannot be set for a resource claim template"))
    return errs


# -- node selection ------------------------------------------------------------------------

_NODE_OPS = ("DoesNotExist", "Exists", "Gt", "In", "Lt", "NotIn")


def validate_node_selector(selector: NodeSelector, path: str) -> list[FieldError]:
    """core ValidateNodeSelector (without the empty-term allowance)."""
    errs: list[FieldError] = []
    terms_path = child(path, "nodeSelectorTerms")
    terms = selector.node_selector_terms or []
    if not terms:
        return [required(terms_path, "must have at least one node selector term")]
    for i, term in enumerate(terms):
        tpath = index(terms_path, i)
        for j, req in enumerate(term.match_expressions or []):
            errs.extend(_node_requirement(req.key, req.operator, req.values, index(child(tpath, "matchExpressions"), j)))
        for j, req in enumerate(term.match_fields or []):
            rpath = index(child(tpath, "matchFields"), j)
            if req.key != "metadata.name":
                errs.append(not_supported(child(rpath, "key"), req.key, ["metadata.name"]))
            if req.operator in ("In", "NotIn"):
                if len(req.values or []) != 1:
                    errs.append(
                        required(
                            child(rpath, "values"),
                            "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
                        )
                    )
            else:
                errs.append(not_supported(child(rpath, "operator"), req.operator, ["In", "NotIn"]))
    return errs


def _node_requirement(k: str, op: str, values: Optional[list[str]], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    values = values or []
    vpath = child(path, "values")
    if op in ("In", "NotIn"):
        if not values:
            errs.append(required(vpath, "must be specified when `operator` is 'In' or 'NotIn'"))
    elif op in ("Exists", "DoesNotExist"):
        if values:
            errs.append(forbidden(vpath, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
    elif op in ("Gt", "Lt"):
        if len(values) != 1:
            errs.append(required(vpath, "must be specified single value when `operator` is 'Lt' or 'Gt'"))
    else:
        errs.append(not_supported(child(path, "operator"), op, _NODE_OPS))
    errs.extend(validate_label_name(k, child(path, "key")))
    return errs


def validate_node_name(name: str, path: str) -> list[FieldError]:
    return [invalid(path, name, m) for m in is_dns1123_subdomain(name)]


# -- taints, tolerations, binding conditions ------------------------------------------------


def validate_taint(taint: Any, path: str, opts: Options) -> list[FieldError]:
    errs = validate_label_name(taint.key, child(path, "key"))
    if taint.value:
        errs.extend(validate_label_value(taint.value, child(path, "value")))
    if not taint.effect:
        errs.append(required(child(path, "effect")))
    elif taint.effect not in opts.taint_effects:
        errs.append(not_supported(child(path, "effect"), taint.effect, opts.taint_effects))
    return errs


def validate_toleration(tol: Any, path: str, opts: Options) -> list[FieldError]:
    errs: list[FieldError] = []
    if tol.key:
        errs.extend(validate_label_name(tol.key, child(path, "key")))
    op = tol.operator or ""
    if op == "Exists":
        if tol.value:
            errs.append(invalid(child(path, "value"), tol.value, "must be empty for operator `Exists`"))
    elif op == "Equal":
        errs.extend(validate_label_value(tol.value or "", child(path, "value")))
    elif op == "":
        errs.append(required(child(path, "operator")))
    else:
        errs.append(not_supported(child(path, "operator"), op, ["Equal", "Exists"]))
    if tol.effect and tol.effect not in opts.taint_effects:
        errs.append(not_supported(child(path, "effect"), tol.effect, opts.taint_effects))
    return errs


def validate_binding_parameters(
    conditions: Optional[list[str]], failures: Optional[list[str]], path: str
) -> list[FieldError]:
    conditions = conditions or []
    failures = failures or []
    cpath, fpath = child(path, "bindingConditions"), child(path, "bindingFailureConditions")
    errs = validate_list(conditions, BINDING_CONDITIONS_MAX, validate_label_name, cpath)
    errs.extend(validate_list(failures, BINDING_CONDITIONS_MAX, validate_label_name, fpath))
    seen: set[str] = set()
    for i, c in enumerate(conditions):
        if c in seen:
            errs.append(duplicate(index(cpath, i), c))
        seen.add(c)
    seen_f: set[str] = set()
    for i, c in enumerate(failures):
        if c in seen_f:
            errs.append(duplicate(index(fpath, i), c))
        seen_f.add(c)
        if c in seen:
            errs.append(invalid(index(fpath, i), c, "bindingFailureConditions must not overlap with bindingConditions"))
    if not conditions and failures:
        errs.append(invalid(cpath, conditions, "bindingConditions are required to use bindingFailureConditions"))
    if not failures and conditions:
        errs.append(invalid(fpath, failures, "bindingFailureConditions are required to use bindingConditions"))
    return errs


# -- opaque JSON, CEL --------------------------------------------------------------------


def validate_raw_object(value: Any, path: str, limit: int, opts: Options) -> list[FieldError]:
    """runtime.RawExtension rules: present, at most ``limit`` bytes of JSON, a JSON object."""
    if value is None:
        return [required(path)]
    raw = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if not opts.stored and len(raw.encode()) > limit:
        return [too_long(path, limit)]
    if not isinstance(value, dict):
        return [invalid(path, "<value omitted>", "must be a valid JSON object")]
    return []


def validate_cel_expression(expression: str, path: str, opts: Options) -> list[FieldError]:
    if opts.stored:
        return []
    if len(expression.encode()) > CEL_SELECTOR_EXPRESSION_MAX_LENGTH:
        return [too_long(path, CEL_SELECTOR_EXPRESSION_MAX_LENGTH)]
    if opts.cel_check is None:
        return []
    try:
        found = opts.cel_check(expression, path)
    except UserError as exc:
        return [invalid(path, expression, str(exc))]
    return list(found or [])


def map_items(m: Optional[dict[str, T]], path: str) -> Iterable[tuple[str, T, str]]:
    """(key, value, path-of-value) for a map, in key order for stable reports."""
    for k in sorted(m or {}):
        yield k, (m or {})[k], key(path, k)
