"""An independent, brute-force model of the allocator for small instances (tests only).

It enumerates every choice (sub-request per request, device combination per request) and
checks the rules directly on the generated dicts, with Python predicates instead of CEL.
It knows nothing of the allocator's search order, caches or data structures; it shares
only the rules (reference §5), including the per-request storage of distinctAttribute.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from typing import Any

from dra.testing.strategies import DRIVER, PREDICATES


def qty(s: str) -> Fraction:
    from dra.api.quantity import Quantity

    return Quantity(str(s)).as_fraction()


def _attr_value(device: dict[str, Any], fq: str) -> Any:
    domain, _, ident = fq.partition("/")
    attrs = device["attributes"]
    a = attrs.get(fq)
    if a is None and domain == DRIVER:
        a = attrs.get(ident)
    if a is None:
        return None
    ((kind, value),) = a.items()
    return (kind, value)


def _consumed(device: dict[str, Any], requests: dict[str, str] | None) -> dict[str, Fraction] | None:
    """Per-capacity consumption, or None when a policy is violated."""
    out = {}
    for name, cap in device.get("capacity", {}).items():
        value = qty(cap["value"])
        policy = cap.get("requestPolicy")
        req = qty(requests[name]) if requests and name in requests else None
        if req is None:
            c = qty(policy["default"]) if policy and "default" in policy else value
        elif not policy:
            c = req
        elif "validRange" in policy:
            lo = qty(policy["validRange"]["min"])
            step = qty(policy["validRange"].get("step", "0"))
            c = lo if req < lo else req
            if step and req >= lo:
                n = -((-(req - lo)) // step)
                c = lo + n * step
            hi = policy["validRange"].get("max")
            if c != qty(policy["default"]) and hi is not None and c > qty(hi):
                return None
        else:
            vals = [qty(v) for v in policy["validValues"]]
            c = next((v for v in vals if req <= v), req)
            if c != qty(policy["default"]) and c not in vals:
                return None
        out[name] = c
    return out


class Oracle:
    def __init__(self, raw: dict[str, Any], features: Any, allocated: set[str]) -> None:
        self.features = features
        self.classes = {c["metadata"]["name"]: c for c in raw["classes"]}
        self.devices = [d for s in raw["slices"] for d in s["spec"].get("devices", [])]
        self.counter_sets = {
            cs["name"]: {k: qty(v["value"]) for k, v in cs["counters"].items()}
            for s in raw["slices"] for cs in s["spec"].get("sharedCounters", [])
        }
        self.allocated = allocated
        self.claims = raw["claims"]

    # -------------------------------------------------------- per device
    def _selectable(self, req: dict[str, Any], d: dict[str, Any]) -> bool:
        cls = self.classes[req["deviceClassName"]]
        for sel in cls["spec"].get("selectors", []):
            if not PREDICATES[sel["cel"]["expression"]](d):
                return False
        for sel in req.get("selectors", []):
            if not PREDICATES[sel["cel"]["expression"]](d):
                return False
        return True

    def _tainted(self, req: dict[str, Any], d: dict[str, Any]) -> bool:
        if not self.features.device_taints:
            return False
        for t in d.get("taints", []):
            if t["effect"] not in ("NoSchedule", "NoExecute"):
                continue
            ok = False
            for tol in req.get("tolerations", []):
                if tol.get("effect") and tol["effect"] != t["effect"]:
                    continue
                if tol.get("key") and tol["key"] != t["key"]:
                    continue
                op = tol.get("operator", "Equal")
                if op == "Exists" or (op == "Equal" and tol.get("value", "") == t.get("value", "")):
                    ok = True
                    break
            if not ok:
                return True
        return False

    def _multi(self, d: dict[str, Any]) -> bool:
        return bool(self.features.consumable_capacity and d.get("allowMultipleAllocations"))

    def _cap_requests(self, req: dict[str, Any]) -> dict[str, str] | None:
        return (req.get("capacity") or {}).get("requests")

    # ------------------------------------------------------------ search
    def solvable(self) -> bool:
        items = []  # (claim index, request name, [alternatives])
        for ci, claim in enumerate(self.claims):
            for r in claim["spec"]["devices"]["requests"]:
                if "firstAvailable" in r:
                    alts = [(r["name"], s["name"], s) for s in r["firstAvailable"]]
                else:
                    alts = [(r["name"], None, r["exactly"])]
                items.append((ci, alts))
        return self._go(items, 0, [])

    def _go(self, items: list[Any], i: int, chosen: list[Any]) -> bool:
        if i == len(items):
            return self._valid(chosen)
        ci, alts = items[i]
        for base, sub, req in alts:
            for devs in self._choices(req):
                step = [(ci, base, sub, req, d) for d in devs]
                if self._valid(chosen + step) and self._go(items, i + 1, chosen + step):
                    return True
        return False

    def _choices(self, req: dict[str, Any]):
        mode = req.get("allocationMode", "ExactCount")
        ok = []
        for d in self.devices:
            if not self._selectable(req, d):
                continue
            if self.features.consumable_capacity:
                caps = self._cap_requests(req)
                if caps and any(n not in d.get("capacity", {}) for n in caps):
                    continue
                c = _consumed(d, caps)
                if c is None or any(v > qty(d["capacity"][k]["value"]) for k, v in c.items()):
                    continue
            ok.append(d)
        if mode == "All":
            if ok:
                yield ok
            return
        yield from itertools.combinations(ok, req.get("count", 1))

    def _valid(self, chosen: list[Any]) -> bool:
        used: set[str] = set()
        capacity: dict[str, dict[str, Fraction]] = {}
        counters: dict[tuple[str, str], Fraction] = {}
        counted: set[str] = set()
        for d in self.devices:  # devices in use elsewhere hold their counters
            if d["name"] in self.allocated:
                for cc in d.get("consumesCounters", []):
                    for k, v in cc["counters"].items():
                        key = (cc["counterSet"], k)
                        counters[key] = counters.get(key, 0) + qty(v["value"])
        constraints: dict[int, list[Any]] = {}
        for ci, base, sub, req, d in chosen:
            name = d["name"]
            if name in self.allocated:
                return False
            if self._tainted(req, d):
                return False
            multi = self._multi(d)
            if not multi:
                if name in used:
                    return False
                used.add(name)
            if self.features.consumable_capacity:
                c = _consumed(d, self._cap_requests(req))
                if c is None:
                    return False
                if multi:
                    per = capacity.setdefault(name, {})
                    for k, v in c.items():
                        per[k] = per.get(k, 0) + v
                        if per[k] > qty(d["capacity"][k]["value"]):
                            return False
                elif any(v > qty(d["capacity"][k]["value"]) for k, v in c.items()):
                    return False
            if d.get("consumesCounters") and name not in counted:
                if not self.features.partitionable_devices:
                    return False
                counted.add(name)
                for cc in d["consumesCounters"]:
                    for k, v in cc["counters"].items():
                        key = (cc["counterSet"], k)
                        counters[key] = counters.get(key, 0) + qty(v["value"])
                for (set_name, k), total in counters.items():
                    if total > self.counter_sets[set_name][k]:
                        return False
            if not self._constraints_ok(constraints, ci, base, sub, d):
                return False
        return True

    def _constraints_ok(self, state: dict[int, list[Any]], ci: int, base: str, sub: str | None, d: dict[str, Any]) -> bool:
        specs = self.claims[ci]["spec"]["devices"].get("constraints", [])
        per_claim = state.setdefault(ci, [None] * len(specs))
        for k, c in enumerate(specs):
            names = c.get("requests") or []
            if names and base not in names and (sub is None or f"{base}/{sub}" not in names):
                continue
            attr = c.get("matchAttribute") or c.get("distinctAttribute")
            value = _attr_value(d, attr)
            if value is None:
                return False
            if "matchAttribute" in c:
                if per_claim[k] is None:
                    per_claim[k] = value
                elif per_claim[k] != value:
                    return False
            else:
                stored = per_claim[k] if per_claim[k] is not None else {}
                if stored and value in stored.values():
                    return False
                stored = dict(stored)
                stored[base] = value
                per_claim[k] = stored
        return True
