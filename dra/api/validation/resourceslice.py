"""ResourceSlice rules (``ValidateResourceSlice``) for 1.35, with the 1.34 differences:
per-slice counter limits instead of pool-scoped counter sets, 4 taints per device, no ``None``
taint effect, no 64-device limit, devices and sharedCounters allowed together.

1.36 adds list-typed attributes (non-empty, each string/version as a scalar), at most 48
attribute values per device (a scalar counts one, a list its length), the 64-device limit when
any device has a list attribute, and ``nodeAllocatableResourceMappings``. 1.37 replaces those
mappings by ``nodeAllocatableResources`` (``mapping``/``overhead``) and adds
``partitionTypeAttribute``, ``skipNodeOperations``, ``compatibilityGroups`` and milli-unit
request-policy ranges (``DRAFractionalCapacityRange``). Ported from
``pkg/apis/resource/validation/validation.go`` of v1.36.3 and v1.37.2."""

from __future__ import annotations

from typing import Optional

from dra.api.errors import FieldError
from dra.api.quantity import Quantity
from dra.api.resourceslice import (
    CapacityRequestPolicy,
    CounterSet,
    Device,
    DeviceAttribute,
    DeviceCapacity,
    DeviceCounterConsumption,
    ResourceSlice,
    ResourceSliceSpec,
)
from dra.api.validation.common import (
    Options,
    map_items,
    validate_binding_parameters,
    validate_list,
    validate_node_name,
    validate_node_selector,
    validate_object_meta,
    validate_taint,
)
from dra.api.validation.errs import (
    child,
    duplicate,
    forbidden,
    index,
    invalid,
    key,
    not_found,
    not_supported,
    required,
    too_long,
    too_many,
)
from dra.api.validation.names import (
    is_semver,
    validate_dns_label,
    validate_driver_name,
    validate_fully_qualified_name,
    validate_pool_name,
    validate_qualified_name,
)

MAX_DEVICES = 128
MAX_DEVICES_WITH_TAINTS_OR_COUNTERS = 64  # 1.35
MAX_ATTRIBUTES_AND_CAPACITIES = 32
ATTRIBUTE_MAX_VALUE_LENGTH = 64
MAX_COUNTER_SETS = 8  # 1.35
MAX_COUNTERS_PER_SET = 32  # 1.35
MAX_CONSUMPTIONS_PER_DEVICE = 2  # 1.35
MAX_COUNTERS_PER_CONSUMPTION = 32  # 1.35
MAX_SHARED_COUNTERS_134 = 32  # 1.34: all counters of all sets of a slice
MAX_COUNTERS_PER_DEVICE_134 = 32  # 1.34
MAX_DEVICE_COUNTERS_PER_SLICE_134 = 1024  # 1.34
MAX_VALID_VALUES = 10
MAX_ATTRIBUTE_VALUES_PER_DEVICE = 48  # 1.36
MAX_COMPATIBILITY_GROUPS = 2  # 1.37
SKIP_NODE_OPERATIONS = ("*", "NodePrepareResources", "NodeUnprepareResources")
NODE_ALLOCATABLE_136 = ("cpu", "memory", "ephemeral-storage")  # IsNativeResource (plus hugepages-*, requests.*)
_ONE_OF = "exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required"
_PER_DEVICE = (
    "exactly one of `nodeName`, `nodeSelector`, or `allNodes` is required when "
    "`perDeviceNodeSelection` is set to true in the ResourceSlice spec"
)


def validate_resource_slice(obj: ResourceSlice, opts: Options) -> list[FieldError]:
    errs = validate_object_meta(obj.metadata)
    errs.extend(validate_spec(obj.spec, "spec", opts))
    return errs


def validate_spec(spec: ResourceSliceSpec, path: str, opts: Options) -> list[FieldError]:
    errs = validate_driver_name(spec.driver, child(path, "driver"))
    pool_path = child(path, "pool")
    errs.extend(validate_pool_name(spec.pool.name, child(pool_path, "name")))
    if spec.pool.resource_slice_count <= 0:
        errs.append(invalid(child(pool_path, "resourceSliceCount"), spec.pool.resource_slice_count, "must be greater than zero"))
    if spec.pool.generation < 0:
        errs.append(invalid(child(pool_path, "generation"), spec.pool.generation, "must be greater than or equal to zero"))

    set_fields: list[str] = []
    if spec.node_name is not None:
        if spec.node_name:
            set_fields.append("`nodeName`")
            errs.extend(validate_node_name(spec.node_name, child(path, "nodeName")))
        else:
            errs.append(invalid(child(path, "nodeName"), "", "must be either unset or set to a non-empty string"))
    if spec.node_selector is not None:
        set_fields.append("`nodeSelector`")
        sel_path = child(path, "nodeSelector")
        errs.extend(validate_node_selector(spec.node_selector, sel_path))
        terms = spec.node_selector.node_selector_terms or []
        if len(terms) != 1:
            errs.append(invalid(child(sel_path, "nodeSelectorTerms"), [t.to_dict() for t in terms], "must have exactly one node selector term"))
    for flag, name in ((spec.all_nodes, "allNodes"), (spec.per_device_node_selection, "perDeviceNodeSelection")):
        if flag is not None:
            if flag:
                set_fields.append(f"`{name}`")
            else:
                errs.append(invalid(child(path, name), False, "must be either unset or set to true"))
    if not set_fields:
        errs.append(required(path, _ONE_OF))
    elif len(set_fields) > 1:
        errs.append(invalid(path, "{" + ", ".join(set_fields) + "}", _ONE_OF + ", but multiple fields are set"))

    devices = spec.devices or []
    if not opts.is_134 and spec.shared_counters is not None and spec.devices is not None:
        errs.append(invalid(path, "", "only one of `sharedCounters` or `devices` is allowed"))

    limit = MAX_DEVICES
    if not opts.is_134 and any(d.taints or d.consumes_counters for d in devices):
        limit = MAX_DEVICES_WITH_TAINTS_OR_COUNTERS
    if opts.at_least("1.36") and any(a.is_list for d in devices for a in (d.attributes or {}).values()):
        limit = MAX_DEVICES_WITH_TAINTS_OR_COUNTERS  # ResourceSliceMaxDevicesWithAdvancedFeatures
    per_device = bool(spec.per_device_node_selection)
    shared = {cs.name: set(cs.counters or {}) for cs in spec.shared_counters or []} if opts.is_134 else None
    errs.extend(
        validate_list(
            spec.devices,
            limit,
            lambda d, p: validate_device(d, p, per_device, opts, shared),
            child(path, "devices"),
            key_of=lambda d: d.name,
        )
    )

    counters_path = child(path, "sharedCounters")
    if opts.is_134:
        errs.extend(validate_list(spec.shared_counters, -1, validate_counter_set, counters_path, key_of=lambda c: c.name))
        total = sum(len(cs.counters or {}) for cs in spec.shared_counters or [])
        if total > MAX_SHARED_COUNTERS_134:
            errs.append(invalid(counters_path, total, f"the total number of shared counters must not exceed {MAX_SHARED_COUNTERS_134}"))
        consumed = sum(len(c.counters or {}) for d in devices for c in d.consumes_counters or [])
        if consumed > MAX_DEVICE_COUNTERS_PER_SLICE_134:
            errs.append(
                invalid(child(path, "devices"), consumed, f"the total number of counters in devices must not exceed {MAX_DEVICE_COUNTERS_PER_SLICE_134}")
            )
    else:
        errs.extend(validate_list(spec.shared_counters, MAX_COUNTER_SETS, validate_counter_set, counters_path, key_of=lambda c: c.name))
    if spec.partition_type_attribute is not None:
        errs.extend(_validate_partition_type_attribute(spec, path))
    if spec.skip_node_operations is not None:
        errs.extend(validate_skip_node_operations(spec.skip_node_operations, child(path, "skipNodeOperations")))
    return errs


def _validate_partition_type_attribute(spec: ResourceSliceSpec, path: str) -> list[FieldError]:
    name = spec.partition_type_attribute or ""
    ppath = child(path, "partitionTypeAttribute")
    devices = spec.devices or []
    if not any(d.consumes_counters for d in devices):
        return [invalid(ppath, name, "may only be set on a slice which declares devices that consume counters")]
    errs = validate_fully_qualified_name(name, ppath)
    if errs:
        return errs
    bare = name[len(spec.driver) + 1 :] if name.startswith(spec.driver + "/") else ""
    for i, device in enumerate(devices):
        if not device.consumes_counters:
            continue
        attrs = device.attributes or {}
        attr = attrs.get(name) or (attrs.get(bare) if bare else None)
        apath = key(child(index(child(path, "devices"), i), "attributes"), name)
        if attr is None:
            errs.append(required(apath, "device consumes counters and `partitionTypeAttribute` names this attribute, so it must be set"))
        elif attr.string is None:
            errs.append(invalid(apath, attr, "must be a string value because `partitionTypeAttribute` names this attribute"))
    return errs


def validate_skip_node_operations(ops: list[str], path: str) -> list[FieldError]:
    """Enum values, set semantics, and NodePrepareResources only with NodeUnprepareResources or "*"."""
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, op in enumerate(ops):
        if op not in SKIP_NODE_OPERATIONS:
            errs.append(not_supported(index(path, i), op, SKIP_NODE_OPERATIONS))
        if op in seen:
            errs.append(duplicate(index(path, i), op))
        seen.add(op)
    if "NodePrepareResources" in seen and "NodeUnprepareResources" not in seen and "*" not in seen:
        errs.append(invalid(path, ops, "NodePrepareResources cannot be skipped unless NodeUnprepareResources is also skipped"))
    return errs


def validate_counter_set(cs: CounterSet, path: str, limit: int = MAX_COUNTERS_PER_SET) -> list[FieldError]:
    errs: list[FieldError] = []
    if not cs.name:
        errs.append(required(child(path, "name")))
    else:
        errs.extend(validate_dns_label(cs.name, child(path, "name")))
    errs.extend(_validate_counters(cs.counters, child(path, "counters"), limit))
    return errs


def _validate_counters(counters: Optional[dict], path: str, limit: int) -> list[FieldError]:
    if not counters:
        return [required(path)]
    if limit >= 0 and len(counters) > limit:
        return [too_many(path, len(counters), limit)]
    errs: list[FieldError] = []
    for name in sorted(counters):
        errs.extend(validate_dns_label(name, path))
    return errs


def validate_consumption(c: DeviceCounterConsumption, path: str, opts: Options) -> list[FieldError]:
    errs: list[FieldError] = []
    if not c.counter_set:
        errs.append(required(child(path, "counterSet")))
    else:
        errs.extend(validate_dns_label(c.counter_set, child(path, "counterSet")))
    limit = -1 if opts.is_134 else MAX_COUNTERS_PER_CONSUMPTION
    errs.extend(_validate_counters(c.counters, child(path, "counters"), limit))
    if c.compatibility_groups is not None:
        errs.extend(
            validate_list(
                c.compatibility_groups, MAX_COMPATIBILITY_GROUPS, lambda g, p: validate_dns_label(g, p),
                child(path, "compatibilityGroups"), key_of=lambda g: g,
            )
        )
    return errs


def validate_device(
    device: Device,
    path: str,
    per_device_node_selection: bool,
    opts: Options,
    shared: Optional[dict[str, set[str]]] = None,
) -> list[FieldError]:
    errs = validate_dns_label(device.name, child(path, "name"))
    n = len(device.attributes or {}) + len(device.capacity or {})
    if n > MAX_ATTRIBUTES_AND_CAPACITIES:
        errs.append(invalid(path, n, f"the total number of attributes and capacities must not exceed {MAX_ATTRIBUTES_AND_CAPACITIES}"))
    if opts.at_least("1.36"):
        values = sum(a.value_count() if a.is_list else 1 for a in (device.attributes or {}).values())
        if values > MAX_ATTRIBUTE_VALUES_PER_DEVICE:
            errs.append(invalid(path, values, f"the total number of attribute values must not exceed {MAX_ATTRIBUTE_VALUES_PER_DEVICE}"))
    attr_path = child(path, "attributes")
    for name, attr, p in map_items(device.attributes, attr_path):
        errs.extend(validate_qualified_name(name, attr_path))
        errs.extend(validate_attribute(attr, p))
    cap_path = child(path, "capacity")
    multi = bool(device.allow_multiple_allocations)
    for name, cap, p in map_items(device.capacity, cap_path):
        errs.extend(validate_qualified_name(name, cap_path))
        errs.extend(validate_capacity(cap, p, multi, fractional=opts.enabled("DRAFractionalCapacityRange")))

    taint_limit = 4 if opts.is_134 else 16
    errs.extend(validate_list(device.taints, taint_limit, lambda t, p: validate_taint(t, p, opts), child(path, "taints")))

    cc_path = child(path, "consumesCounters")
    if opts.is_134:
        errs.extend(validate_list(device.consumes_counters, -1, lambda c, p: validate_consumption(c, p, opts), cc_path, key_of=lambda c: c.counter_set))
        total = sum(len(c.counters or {}) for c in device.consumes_counters or [])
        if total > MAX_COUNTERS_PER_DEVICE_134:
            errs.append(invalid(path, total, f"the total number of counters must not exceed {MAX_COUNTERS_PER_DEVICE_134}"))
        # 1.34: counter sets live in the same slice, so references are checked here.
        if shared is not None:
            for i, c in enumerate(device.consumes_counters or []):
                cpath = index(cc_path, i)
                known = shared.get(c.counter_set)
                if known is None:
                    errs.append(invalid(child(cpath, "counterSet"), c.counter_set, "must reference a counterSet defined in the ResourceSlice sharedCounters"))
                    continue
                for name in sorted(c.counters or {}):
                    if name not in known:
                        errs.append(invalid(child(cpath, "counters"), name, "must reference a counter defined in the ResourceSlice sharedCounters"))
    else:
        errs.extend(
            validate_list(
                device.consumes_counters,
                MAX_CONSUMPTIONS_PER_DEVICE,
                lambda c, p: validate_consumption(c, p, opts),
                cc_path,
                key_of=lambda c: c.counter_set,
            )
        )

    if per_device_node_selection:
        set_fields: list[str] = []
        if device.node_name is not None:
            if device.node_name:
                set_fields.append("`nodeName`")
                errs.extend(validate_node_name(device.node_name, child(path, "nodeName")))
            else:
                errs.append(invalid(child(path, "nodeName"), "", "must not be empty"))
        if device.node_selector is not None:
            set_fields.append("`nodeSelector`")
            errs.extend(validate_node_selector(device.node_selector, child(path, "nodeSelector")))
        if device.all_nodes is not None:
            if device.all_nodes:
                set_fields.append("`allNodes`")
            else:
                errs.append(invalid(child(path, "allNodes"), False, "must be either unset or set to true"))
        if not set_fields:
            errs.append(required(path, _PER_DEVICE))
        elif len(set_fields) > 1:
            errs.append(invalid(path, "{" + ", ".join(set_fields) + "}", _PER_DEVICE))
    elif device.node_name is not None or device.node_selector is not None or device.all_nodes is not None:
        errs.append(
            invalid(
                path,
                None,
                "`nodeName`, `nodeSelector` and `allNodes` can only be set if `perDeviceNodeSelection` "
                "is set to true in the ResourceSlice spec",
            )
        )
    errs.extend(validate_binding_parameters(device.binding_conditions, device.binding_failure_conditions, path))
    if device.node_allocatable_resource_mappings is not None:
        errs.extend(_validate_mappings_136(device, child(path, "nodeAllocatableResourceMappings")))
    if device.node_allocatable_resources is not None:
        errs.extend(_validate_node_allocatable(device, child(path, "nodeAllocatableResources")))
    return errs


def _native_136(name: str) -> bool:
    # v1helper.IsNativeResource: no domain, or the kubernetes.io domain
    return "/" not in name or name.split("/", 1)[0].endswith("kubernetes.io")


def _node_allocatable_137(name: str) -> bool:
    # corehelper.IsNodeAllocatableResourceName: cpu, memory, hugepages-<size>
    return name in ("cpu", "memory") or name.startswith("hugepages-")


def _validate_mappings_136(device: Device, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for name in sorted(device.node_allocatable_resource_mappings or {}):
        m = (device.node_allocatable_resource_mappings or {})[name]
        kpath = key(path, name)
        if not _native_136(name):
            errs.append(invalid(kpath, name, "must be a node allocatable resource name"))
        if m.allocation_multiplier is None and m.capacity_key is None:
            errs.append(invalid(kpath, "", "at least one of allocationMultiplier or capacityKey must be set"))
            continue
        if m.allocation_multiplier is not None and m.allocation_multiplier.sign() <= 0:
            errs.append(invalid(child(kpath, "allocationMultiplier"), str(m.allocation_multiplier), "must be positive"))
        if m.capacity_key is not None:
            if m.capacity_key == "":
                errs.append(invalid(child(kpath, "capacityKey"), "", "capacityKey must not be an empty string"))
            elif m.capacity_key not in (device.capacity or {}):
                errs.append(not_found(child(kpath, "capacityKey"), m.capacity_key))
    return errs


def _validate_node_allocatable(device: Device, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    resources = device.node_allocatable_resources or {}
    for name in sorted(resources):
        r = resources[name]
        kpath = key(path, name)
        if not _node_allocatable_137(name):
            errs.append(invalid(kpath, name, "must be a node allocatable resource name"))
        if r.mapping is None and r.overhead is None:
            errs.append(required(kpath, "at least one of mapping or overhead must be set"))
        if r.mapping is not None:
            m, mpath = r.mapping, child(kpath, "mapping")
            if m.capacity_key is not None:
                if m.capacity_key == "":
                    errs.append(invalid(child(mpath, "capacityKey"), "", "capacityKey must not be an empty string"))
                elif m.capacity_key not in (device.capacity or {}):
                    errs.append(not_found(child(mpath, "capacityKey"), m.capacity_key))
                if m.capacity_multiplier is None:
                    errs.append(required(child(mpath, "capacityMultiplier"), "capacityMultiplier is required when capacityKey is set"))
                elif m.capacity_multiplier.sign() <= 0:
                    errs.append(invalid(child(mpath, "capacityMultiplier"), str(m.capacity_multiplier), "must be positive"))
            if m.device_multiplier is not None and m.device_multiplier.sign() <= 0:
                errs.append(invalid(child(mpath, "deviceMultiplier"), str(m.device_multiplier), "must be positive"))
            if m.capacity_multiplier is not None and m.capacity_key is None:
                errs.append(required(child(mpath, "capacityKey"), "capacityKey is required when capacityMultiplier is set"))
            if m.device_multiplier is not None and m.capacity_key is not None:
                # +k8s:unionMember: capacityKey(+capacityMultiplier) and deviceMultiplier are exclusive
                errs.append(invalid(mpath, m, "must specify one of: `capacityKey`, `deviceMultiplier`"))
        if r.overhead is not None:
            o, opath = r.overhead, child(kpath, "overhead")
            if o.per_pod is None and o.per_container is None:
                errs.append(invalid(opath, "", "at least one of perPod or perContainer must be set"))
                continue
            for q, fname in ((o.per_pod, "perPod"), (o.per_container, "perContainer")):
                if q is not None and q.sign() < 0:
                    errs.append(invalid(child(opath, fname), str(q), "must be non-negative"))
    return errs


def validate_attribute(attr: DeviceAttribute, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    count = sum(v is not None for v in (attr.int_, attr.bool_, attr.string, attr.version))
    for kind in ("bools", "ints", "strings", "versions"):
        values = getattr(attr, kind)
        if values is None:
            continue
        count += 1
        lpath = child(path, kind)
        if not values:
            errs.append(invalid(lpath, [], "must not be empty if specified"))
        if kind == "strings":
            for i, item in enumerate(values):
                if len(item.encode()) > ATTRIBUTE_MAX_VALUE_LENGTH:
                    errs.append(too_long(index(lpath, i), ATTRIBUTE_MAX_VALUE_LENGTH))
        elif kind == "versions":
            for i, item in enumerate(values):
                if not is_semver(item):
                    errs.append(invalid(index(lpath, i), item, "must be a string compatible with semver.org spec 2.0.0"))
                if len(item.encode()) > ATTRIBUTE_MAX_VALUE_LENGTH:
                    errs.append(too_long(index(lpath, i), ATTRIBUTE_MAX_VALUE_LENGTH))
    if attr.string is not None and len(attr.string.encode()) > ATTRIBUTE_MAX_VALUE_LENGTH:
        errs.append(too_long(child(path, "string"), ATTRIBUTE_MAX_VALUE_LENGTH))
    if attr.version is not None:
        if not is_semver(attr.version):
            errs.append(invalid(child(path, "version"), attr.version, "must be a string compatible with semver.org spec 2.0.0"))
        if len(attr.version.encode()) > ATTRIBUTE_MAX_VALUE_LENGTH:
            errs.append(too_long(child(path, "version"), ATTRIBUTE_MAX_VALUE_LENGTH))
    if count == 0:
        errs.append(invalid(path, "", "exactly one value must be specified"))
    elif count > 1:
        errs.append(invalid(path, attr, "exactly one value must be specified"))
    return errs


def validate_capacity(cap: DeviceCapacity, path: str, multi: bool, fractional: bool = False) -> list[FieldError]:
    if cap.request_policy is None:
        return []
    ppath = child(path, "requestPolicy")
    if not multi:
        return [forbidden(ppath, "allowMultipleAllocations must be true")]
    return validate_request_policy(cap.value, cap.request_policy, ppath, fractional)


def validate_request_policy(
    capacity: Quantity, policy: CapacityRequestPolicy, path: str, fractional: bool = False
) -> list[FieldError]:
    """``fractional``: the 1.37 ``DRAFractionalCapacityRange`` gate (milli arithmetic, exact keys)."""
    if policy.valid_values and policy.valid_range is not None:
        return [forbidden(path, 'exactly one policy can be specified, cannot specify "validValues" and "validRange" at the same time')]
    errs: list[FieldError] = []
    if policy.valid_values:
        if policy.default is None:
            return [required(child(path, "default"), "required when validValues is defined")]
        vpath = child(path, "validValues")
        values = policy.valid_values
        for i in range(len(values) - 1):
            if values[i] > values[i + 1]:
                errs.append(invalid(index(vpath, i + 1), str(values[i + 1]), "values must be sorted in ascending order"))

        def each(option: Quantity, p: str) -> list[FieldError]:
            if option > capacity:
                return [invalid(p, str(option), f"option is larger than capacity value: {capacity}")]
            return []

        # Upstream keys the uniqueness check by Value() (integer) without DRAFractionalCapacityRange,
        # by the exact decimal with it.
        key_of = (lambda q: str(q.as_fraction())) if fractional else (lambda q: str(q.value()))
        errs.extend(validate_list(values, MAX_VALID_VALUES, each, vpath, key_of=key_of))
        if len(values) <= MAX_VALID_VALUES and not any(v == policy.default for v in values):
            errs.append(invalid(vpath, str(policy.default), "default value is not valid according to the requestPolicy"))
    elif policy.valid_range is not None:
        if policy.default is None:
            return [required(child(path, "default"), "required when validRange is defined")]
        errs.extend(_validate_range(policy.default, capacity, policy, child(path, "validRange"), fractional))
    return errs


def _validate_range(
    default: Quantity, capacity: Quantity, policy: CapacityRequestPolicy, path: str, fractional: bool = False
) -> list[FieldError]:
    rng = policy.valid_range
    assert rng is not None
    if rng.min is None:
        return [required(child(path, "min"), "required when validRange is defined")]
    lo = rng.min
    errs: list[FieldError] = []
    if lo > capacity:
        errs.append(invalid(child(path, "min"), str(lo), f"min is larger than capacity value: {capacity}"))
    if default < lo:
        errs.append(invalid(child(path, "default"), str(default), f"default is less than min: {lo}"))
    if rng.max is not None:
        if lo > rng.max:
            errs.append(invalid(child(path, "max"), str(lo), f"min is larger than max: {rng.max}"))
        if rng.max > capacity:
            errs.append(invalid(child(path, "max"), str(rng.max), f"max is larger than capacity value: {capacity}"))
        if default > rng.max:
            errs.append(invalid(child(path, "default"), str(default), f"default is more than max: {rng.max}"))
    use_milli = fractional and any(q is not None and not q.is_integer() for q in (lo, rng.max, rng.step, default))
    if use_milli:
        bad = False
        for q, name in ((default, "default"), (lo, "min"), (rng.max, "max"), (rng.step, "step")):
            if q is not None and q != Quantity.from_milli(q.milli_value()):
                errs.append(invalid(child(path, name), str(q), "value cannot be represented as a milli value"))
                bad = True
        if bad:
            return errs
    step = rng.step
    if step is not None:
        spath = child(path, "step")
        if step.sign() <= 0:
            errs.append(invalid(spath, str(step), "must be greater than zero"))
            return errs
        added = lo + step
        if added > capacity:
            errs.append(invalid(spath, str(step), f"one step {added} is larger than capacity value: {capacity}"))
        unsafe = False
        for q, name in ((default, "default"), (lo, "min"), (rng.max, "max"), (step, "step")):
            if q is None or use_milli:
                continue
            if q.sign() < 0:
                errs.append(invalid(child(path, name), str(q), "must be greater than or equal to 0"))
                unsafe = True
            elif q > (1 << 63) - 1:
                errs.append(invalid(child(path, name), str(q), "must not be larger than 9223372036854775807"))
                unsafe = True
        if not unsafe:
            # Integer Value() arithmetic; MilliValue() with the 1.37 fractional gate.
            get = (lambda q: q.milli_value()) if use_milli else (lambda q: q.value())
            for value in (default, rng.max):
                if value is not None and _go_rem(get(value) - get(lo), get(step)) != 0:
                    errs.append(invalid(spath, str(value), f"value is not a multiple of a given step ({step}) from ({lo})"))
    return errs


def _go_rem(a: int, b: int) -> int:
    """Go's ``%`` (sign of the dividend), so negative differences read as upstream reads them."""
    r = abs(a) % abs(b)
    return -r if a < 0 else r
