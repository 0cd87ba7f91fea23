"""Label and field selectors of list requests, as the real API server parses them.

Label selectors: equality-based (``a=b``, ``a==b``, ``a!=b``) and set-based (``a in (x,y)``,
``a notin (x)``, ``a``, ``!a``), ANDed with commas. Field selectors: ``label=value`` /
``label!=value`` terms, limited to the labels the resource type supports (``metadata.name``,
``metadata.namespace`` for namespaced types, plus the type's own, such as ``spec.driver`` and
``spec.nodeName`` for ResourceSlices, and ``spec.pool.name`` from 1.37 on --
``ResourceSliceSelectorPoolName``); any other label is a 400, as upstream.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable

from dra.testing.apiserver_errors import bad_request

if TYPE_CHECKING:
    from dra.testing.apiserver_store import ResourceType

Obj = dict[str, Any]


def dig(*keys: str) -> Callable[[Obj], Any]:
    """A getter for a nested field; missing values read as the empty string (as upstream)."""
    def get(obj: Obj) -> Any:
        value: Any = obj
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        return "" if value is None else value

    return get


def parse_label_selector(text: str) -> Callable[[Obj], bool]:
    """Equality- and set-based label selectors (``a=b,c!=d,e in (x,y),f notin (z),g,!h``)."""
    text = (text or "").strip()
    if not text:
        return lambda obj: True
    tests: list[Callable[[dict[str, str]], bool]] = []
    for term in re.findall(r"[^,(]+(?:\([^)]*\))?", text):
        term = term.strip()
        if not term:
            continue
        m = re.fullmatch(r"([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)", term)
        if m:
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",") if v.strip()}
            if op == "in":
                tests.append(lambda labels, k=key, vs=values: labels.get(k) in vs)
            else:
                tests.append(lambda labels, k=key, vs=values: labels.get(k) not in vs)
            continue
        m = re.fullmatch(r"([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)", term)
        if m:
            key, op, value = m.groups()
            if op == "!=":
                tests.append(lambda labels, k=key, v=value: labels.get(k) != v)
            else:
                tests.append(lambda labels, k=key, v=value: labels.get(k) == v)
            continue
        m = re.fullmatch(r"(!?)([\w./-]+)", term)
        if m:
            negate, key = m.groups()
            tests.append(lambda labels, k=key, n=bool(negate): (k in labels) != n)
            continue
        raise bad_request(f"unable to parse requirement: invalid label selector {text!r}")

    def match(obj: Obj) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(test(labels) for test in tests)

    return match


# Field labels added after 1.35: (kind, label) -> (first minor, getter).
_VERSIONED_FIELD_LABELS: dict[tuple[str, str], tuple[tuple[int, int], Callable[[Obj], Any]]] = {
    ("ResourceSlice", "spec.pool.name"): ((1, 37), dig("spec", "pool", "name")),
}


def _minor_key(version: str | None) -> tuple[int, int]:
    m = re.match(r"^v?(\d+)\.(\d+)", version or "")
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def parse_field_selector(rtype: ResourceType, text: str, k8s_version: str | None = None) -> Callable[[Obj], bool]:
    """Field selectors limited to the labels the real server of ``k8s_version`` supports for the
    resource (without a version, only the labels every supported minor has)."""
    text = (text or "").strip()
    if not text:
        return lambda obj: True
    getters: dict[str, Callable[[Obj], Any]] = {"metadata.name": dig("metadata", "name")}
    if rtype.namespaced:
        getters["metadata.namespace"] = dig("metadata", "namespace")
    getters.update(dict(rtype.field_labels))
    for (kind, label), (since, getter) in _VERSIONED_FIELD_LABELS.items():
        if kind == rtype.kind and _minor_key(k8s_version) >= since:
            getters[label] = getter
    tests: list[Callable[[Obj], bool]] = []
    for term in text.split(","):
        m = re.fullmatch(r"\s*([\w.]+)\s*(==|=|!=)\s*(.*?)\s*", term)
        if not m:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        label, op, value = m.groups()
        getter = getters.get(label)
        if getter is None:
            raise bad_request(f'"{label}" is not a known field selector: only "{", ".join(getters)}"')
        if op == "!=":
            tests.append(lambda obj, g=getter, v=value: str(g(obj)) != v)
        else:
            tests.append(lambda obj, g=getter, v=value: str(g(obj)) == v)
    return lambda obj: all(test(obj) for test in tests)

