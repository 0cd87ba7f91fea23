"""API-server validation of DRA objects: the rules and limits of resource.k8s.io/v1.

``validate(obj, k8s_version="1.35")`` returns every finding as a :class:`FieldError` (path +
upstream-worded message); ``validate_or_raise`` raises :class:`ValidationError` (a UserError)
with all of them on one line.  The models (``dra.api``) only check structure; this module
checks what the API server would refuse on create: names and formats, list sizes, one-of
fields, request references, quantities in request policies, and -- through the optional
``cel_check(expression, path)`` hook, since dra.api sits below dra.cel -- CEL selectors.

``validate_pools(slices)`` adds the checks across the slices of a pool (unique device and
counter-set names, counter references, complete pools) that one-object validation cannot do.

``k8s_version`` is a minor (``"1.34"`` to ``"1.37"``, patch suffix allowed: the default gates of
that minor) or a :class:`dra.versions.KubernetesVersion` (minor plus effective gates, e.g. from
``--kubernetes-version``/``--feature-gates``). Fields the minor does not declare are reported as
``unknown field`` (the strict decoder's words); fields whose gate is off as ``Forbidden`` (the
API server would drop them); see :mod:`dra.api.validation.versioned`. 1.36 adds list-typed
attributes (48 values per device, 64 devices per slice when any device has a list attribute);
1.37 adds nodeAllocatableResources, skipNodeOperations, partitionTypeAttribute,
compatibilityGroups, derivedAttributes and fractional capacity ranges.

``k8s_version="1.34"`` applies the 1.34 rules: 4 taints per device, no ``None`` taint effect,
counters limited per slice (32 shared, 32 per device, 1024 consumed in a slice), devices and
sharedCounters allowed in one slice, no 64-device limit.  A missing ``metadata.namespace`` on a
namespaced object is not reported (kubectl fills in the default namespace).
"""

from __future__ import annotations

from typing import Any, Optional, Union

from dra.api.deviceclass import DeviceClass
from dra.api.devicetaintrule import DeviceTaintRule
from dra.api.errors import FieldError, ValidationError
from dra.api.meta import Node
from dra.api.resourceclaim import ResourceClaim, ResourceClaimTemplate
from dra.api.resourceslice import ResourceSlice
from dra.api.validation.claims import (
    validate_device_class,
    validate_device_taint_rule,
    validate_resource_claim,
    validate_resource_claim_template,
)
from dra.api.validation.common import CelCheck, Options, validate_object_meta
from dra.api.validation.pools import validate_pools
from dra.api.validation.resourceslice import validate_resource_slice
from dra.api.validation.versioned import validate_versioned_fields
from dra.versions import KubernetesVersion, VersionError, parse_minor

__all__ = ["validate", "validate_or_raise", "validate_pools", "FieldError", "ValidationError", "CelCheck", "SUPPORTED_VERSIONS"]

SUPPORTED_VERSIONS = ("1.34", "1.35", "1.36", "1.37")

VersionLike = Union[str, KubernetesVersion]


def _options(k8s_version: VersionLike, cel_check: Optional[CelCheck], stored: bool) -> Options:
    if isinstance(k8s_version, KubernetesVersion):
        return Options(k8s_version=k8s_version.minor, cel_check=cel_check, stored=stored, version=k8s_version)
    version = str(k8s_version)
    if not any(version == v or version.startswith(v + ".") for v in SUPPORTED_VERSIONS):
        raise ValidationError([FieldError("", f"unsupported Kubernetes version {version!r} (supported: {', '.join(SUPPORTED_VERSIONS)})")])
    try:
        kv = KubernetesVersion.of(parse_minor(version))
    except VersionError as ex:
        raise ValidationError([FieldError("", str(ex))]) from None
    return Options(k8s_version=version, cel_check=cel_check, stored=stored, version=kv)


def validate(
    obj: Any,
    *,
    k8s_version: VersionLike = "1.35",
    cel_check: Optional[CelCheck] = None,
    stored: bool = False,
) -> list[FieldError]:
    """All validation findings for one object (empty list = valid).

    ``stored=True`` treats CEL expressions as already stored (not re-checked), like upstream
    does for unchanged objects.
    """
    opts = _options(k8s_version, cel_check, stored)
    if isinstance(obj, (ResourceSlice, ResourceClaim, ResourceClaimTemplate, DeviceClass, DeviceTaintRule)):
        shape = validate_versioned_fields(obj, opts)
        if any(e.message.startswith("unknown field") for e in shape):
            # the strict decoder stops there: the object never reaches validation
            return shape
    if isinstance(obj, ResourceSlice):
        return shape + validate_resource_slice(obj, opts)
    if isinstance(obj, ResourceClaim):
        return shape + validate_resource_claim(obj, opts)
    if isinstance(obj, ResourceClaimTemplate):
        return shape + validate_resource_claim_template(obj, opts)
    if isinstance(obj, DeviceClass):
        return shape + validate_device_class(obj, opts)
    if isinstance(obj, DeviceTaintRule):
        return shape + validate_device_taint_rule(obj, opts)
    if isinstance(obj, Node):
        return validate_object_meta(obj.metadata)
    raise TypeError(f"cannot validate {type(obj).__name__}")


def _describe(obj: Any) -> str:
    meta = getattr(obj, "metadata", None)
    name = getattr(meta, "name", None) or getattr(meta, "generate_name", None) or "<unnamed>"
    ns = getattr(meta, "namespace", None)
    return f"{getattr(obj, 'kind', type(obj).__name__)} {ns + '/' if ns else ''}{name}"


def validate_or_raise(
    obj: Any,
    *,
    k8s_version: VersionLike = "1.35",
    cel_check: Optional[CelCheck] = None,
    stored: bool = False,
    source: str = "",
) -> None:
    """Raise :class:`ValidationError` naming the object and listing every finding on one line."""
    errors = validate(obj, k8s_version=k8s_version, cel_check=cel_check, stored=stored)
    if errors:
        where = f"{source}: " if source else ""
        raise ValidationError(errors, prefix=f"{where}{_describe(obj)} is invalid")
