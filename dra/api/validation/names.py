"""Name formats of the Kubernetes API (``k8s.io/apimachinery/pkg/util/validation``).

The ``is_*`` functions return upstream's messages (empty list = valid); the ``validate_*``
functions turn them into field errors at a path, as the DRA validation code does.
"""

from __future__ import annotations

import re
from functools import lru_cache

from dra.api.errors import FieldError
from dra.api.validation.errs import invalid, required, too_long

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
QUALIFIED_NAME_MAX = 63
LABEL_VALUE_MAX = 63
DRIVER_NAME_MAX = 63
POOL_NAME_MAX = 253
DEVICE_MAX_ID_LENGTH = 32

_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN_FMT = _LABEL_FMT + r"(\." + _LABEL_FMT + ")*"
_QUALIFIED_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = "(" + _QUALIFIED_FMT + ")?"
_C_IDENT_FMT = "[A-Za-z_][A-Za-z0-9_]*"

_LABEL_RE = re.compile(f"^{_LABEL_FMT}$")
_SUBDOMAIN_RE = re.compile(f"^{_SUBDOMAIN_FMT}$")
_QUALIFIED_RE = re.compile(f"^{_QUALIFIED_FMT}$")
_LABEL_VALUE_RE = re.compile(f"^{_LABEL_VALUE_FMT}$")
_C_IDENT_RE = re.compile(f"^{_C_IDENT_FMT}$")

# semver 2.0.0 as the DRA validation spells it (no leading zeros in numeric identifiers).
_NUM = r"(0|[1-9]\d*)"
_PRE = r"(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
_BUILD = r"[0-9a-zA-Z-]+"
SEMVER_RE = re.compile(
    rf"^{_NUM}\.{_NUM}\.{_NUM}(-{_PRE}(\.{_PRE})*)?(\+{_BUILD}(\.{_BUILD})*)?$", re.ASCII
)


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def _max_len(n: int) -> str:
    return f"must be no more than {n} characters"


LABEL_MSG = _regex_error(
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character",
    _LABEL_FMT,
    "my-name",
    "123-abc",
)
SUBDOMAIN_MSG = _regex_error(
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character",
    _SUBDOMAIN_FMT,
    "example.com",
)
_QUALIFIED_ERR = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character"
)
QUALIFIED_MSG = _regex_error(_QUALIFIED_ERR, _QUALIFIED_FMT, "MyName", "my.name", "123-abc")
LABEL_VALUE_MSG = _regex_error(
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character",
    _LABEL_VALUE_FMT,
    "MyValue",
    "my_value",
    "12345",
)
C_IDENT_MSG = _regex_error(
    "a valid C identifier must start with alphabetic character or '_', followed by a string of "
    "alphanumeric characters or '_'",
    _C_IDENT_FMT,
    "my_name",
    "MY_NAME",
    "MyName",
)


@lru_cache(maxsize=65536)
def is_dns1123_label(value: str) -> tuple[str, ...]:
    errs = []
    if len(value) > DNS1123_LABEL_MAX:
        errs.append(_max_len(DNS1123_LABEL_MAX))
    if not _LABEL_RE.match(value):
        errs.append(LABEL_MSG)
    return tuple(errs)


@lru_cache(maxsize=65536)
def is_dns1123_subdomain(value: str) -> tuple[str, ...]:
    errs = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(_max_len(DNS1123_SUBDOMAIN_MAX))
    if not _SUBDOMAIN_RE.match(value):
        errs.append(SUBDOMAIN_MSG)
    return tuple(errs)


@lru_cache(maxsize=65536)
def is_qualified_name(value: str) -> tuple[str, ...]:
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return (
            "a qualified name "
            + QUALIFIED_MSG
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
        )
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > QUALIFIED_NAME_MAX:
        errs.append("name part " + _max_len(QUALIFIED_NAME_MAX))
    if not _QUALIFIED_RE.match(name):
        errs.append("name part " + QUALIFIED_MSG)
    return tuple(errs)


@lru_cache(maxsize=65536)
def is_label_value(value: str) -> tuple[str, ...]:
    errs = []
    if len(value) > LABEL_VALUE_MAX:
        errs.append(_max_len(LABEL_VALUE_MAX))
    if not _LABEL_VALUE_RE.match(value):
        errs.append(LABEL_VALUE_MSG)
    return tuple(errs)


@lru_cache(maxsize=65536)
def is_c_identifier(value: str) -> tuple[str, ...]:
    return () if _C_IDENT_RE.match(value) else (C_IDENT_MSG,)


def is_semver(value: str) -> bool:
    return bool(SEMVER_RE.match(value))


# -- field-level validators -------------------------------------------------------------


def validate_dns_label(value: str | None, path: str) -> list[FieldError]:
    return [invalid(path, value or "", m) for m in is_dns1123_label(value or "")]


def validate_dns_subdomain(value: str | None, path: str) -> list[FieldError]:
    return [invalid(path, value or "", m) for m in is_dns1123_subdomain(value or "")]


def validate_label_name(value: str | None, path: str) -> list[FieldError]:
    return [invalid(path, value or "", m) for m in is_qualified_name(value or "")]


def validate_label_value(value: str | None, path: str) -> list[FieldError]:
    return [invalid(path, value or "", m) for m in is_label_value(value or "")]


def validate_driver_name(value: str | None, path: str) -> list[FieldError]:
    """CSI driver-name rules, used for DRA driver names and attribute domains."""
    value = value or ""
    errs: list[FieldError] = []
    if not value:
        errs.append(required(path))
    if len(value) > DRIVER_NAME_MAX:
        errs.append(too_long(path, DRIVER_NAME_MAX))
    errs.extend(invalid(path, value, m) for m in is_dns1123_subdomain(value.lower()))
    return errs


def validate_pool_name(value: str | None, path: str) -> list[FieldError]:
    value = value or ""
    if not value:
        return [required(path)]
    errs: list[FieldError] = []
    if len(value) > POOL_NAME_MAX:
        errs.append(too_long(path, POOL_NAME_MAX))
    for part in value.split("/"):
        errs.extend(invalid(path, part, m) for m in is_dns1123_subdomain(part))
    return errs


def validate_c_identifier(value: str, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if len(value) > DEVICE_MAX_ID_LENGTH:
        errs.append(too_long(path, DEVICE_MAX_ID_LENGTH))
    errs.extend(invalid(path, value, m) for m in is_c_identifier(value))
    return errs


def validate_qualified_name(name: str, path: str) -> list[FieldError]:
    """Attribute/capacity keys: ``<C identifier>`` or ``<domain>/<C identifier>``."""
    parts = name.split("/")
    errs: list[FieldError] = []
    if len(parts) == 1:
        errs.extend(validate_c_identifier(parts[0], path))
    elif len(parts) == 2:
        if not parts[0]:
            errs.append(invalid(path, "", "the domain must not be empty"))
        else:
            errs.extend(validate_driver_name(parts[0], path))
        if not parts[1]:
            errs.append(invalid(path, "", "the name must not be empty"))
        else:
            errs.extend(validate_c_identifier(parts[1], path))
    else:
        errs.append(invalid(path, name, "must not contain more than one slash"))
    return errs


def validate_fully_qualified_name(name: str, path: str) -> list[FieldError]:
    errs = validate_qualified_name(name, path)
    if "/" not in name:
        errs.append(
            invalid(path, name, "a fully qualified name must be a domain and a name separated by a slash")
        )
    return errs


def is_extended_resource_name(name: str) -> bool:
    """core/v1 helper IsExtendedResourceName: a qualified, non-native, non-``requests.`` name."""
    if "/" not in name or "kubernetes.io/" in name:
        return False
    if name.startswith("requests."):
        return False
    return not is_qualified_name("requests." + name)
