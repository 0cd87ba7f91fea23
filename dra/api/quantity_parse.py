"""The numeric core of :class:`dra.api.quantity.Quantity`: upstream's quantity string scanner
(``parseQuantityString`` / ``ParseQuantity``), suffix tables, nano rounding and exact
comparison of ``unscaled * 10**exp`` values.  Kept apart from the class so each file has one
job; callers use :mod:`dra.api.quantity`.
"""

from __future__ import annotations

from typing import Literal

from dra.errors import UserError

BINARY_SI = "BinarySI"
DECIMAL_SI = "DecimalSI"
DECIMAL_EXPONENT = "DecimalExponent"
FORMATS = (BINARY_SI, DECIMAL_SI, DECIMAL_EXPONENT)
FormatName = Literal["BinarySI", "DecimalSI", "DecimalExponent"]

SPLIT_RE = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT_WRONG = f"quantities must match the regular expression '{SPLIT_RE}'"
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"

INT64_MAX = (1 << 63) - 1
INT64_MIN = -(1 << 63)
_INT32_MAX = (1 << 31) - 1
NANO = -9

# suffix -> (base, exponent); the decimal table includes the empty suffix.
_DEC_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BIN_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
DEC_BY_EXP = {e: s for s, e in _DEC_SUFFIXES.items()}
BIN_BY_POWER = {0: "", 1: "Ki", 2: "Mi", 3: "Gi", 4: "Ti", 5: "Pi", 6: "Ei"}
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_DIGITS = frozenset("0123456789")
# Upstream's precision estimate for the binary fast path: int32(float32(exp)*3/10).
_BIN_PRECISION_DROP = {10: 3, 20: 6, 30: 9, 40: 12, 50: 15, 60: 18}

# Magnitude bound above which comparisons avoid materialising 10**diff.
_ALIGN_LIMIT = 4000
# Exponents beyond this are refused where an exact integer/fraction would have to be built
# (upstream's int64 accessors silently overflow there; "1e999999999" is a valid string).
MATERIALISE_LIMIT = 4000


class QuantityError(UserError):
    """A string (or number) that is not a valid Kubernetes quantity."""


def strip_tens(u: int, exp: int) -> tuple[int, int]:
    """Normalise ``u * 10**exp`` so that ``u`` has no trailing decimal zeros (0 -> (0, 0))."""
    if u == 0:
        return 0, 0
    while u % 10 == 0:
        # Strip in large steps first: values like 2**60 * 10**k are common after scaling.
        if u % 1_000_000_000 == 0:
            u //= 1_000_000_000
            exp += 9
        else:
            u //= 10
            exp += 1
    return u, exp


def round_up_to_nano(u: int, exp: int) -> tuple[int, int]:
    """Round ``u * 10**exp`` away from zero to a multiple of 10**-9 (upstream RoundUp)."""
    if exp >= NANO or u == 0:
        return u, exp
    shift = NANO - exp
    neg = u < 0
    a = -u if neg else u
    if shift > len(str(a)) + 1:
        # 10**shift is larger than a: the result is the smallest representable step.
        q = 1
    else:
        q, r = divmod(a, 10**shift)
        if r:
            q += 1
    return (-q if neg else q), NANO


def _parse_string(s: str) -> tuple[bool, str, str, str, str]:
    """Upstream ``parseQuantityString``: split into sign, numeric text, num, denom, suffix."""
    positive = True
    pos = 0
    end = len(s)
    if pos < end:
        c = s[0]
        if c == "-":
            positive = False
            pos += 1
        elif c == "+":
            pos += 1
    # strip leading zeros
    while True:
        if pos >= end:
            return positive, "0", "0", "", ""
        if s[pos] == "0":
            pos += 1
        else:
            break
    start = pos
    while pos < end and s[pos] in _DIGITS:
        pos += 1
    num = s[start:pos]
    if pos >= end:
        return positive, s, num or "0", "", ""
    if not num:
        num = "0"
    denom = ""
    if s[pos] == ".":
        pos += 1
        dstart = pos
        while pos < end and s[pos] in _DIGITS:
            pos += 1
        denom = s[dstart:pos]
        if pos >= end:
            return positive, s, num, denom, ""
    value = s[:pos]
    suffix_start = pos
    while pos < end and s[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos >= end:
        return positive, value, num, denom, s[suffix_start:]
    if s[pos] in "+-":
        pos += 1
    while pos < end:
        if s[pos] not in _DIGITS:
            raise QuantityError(ERR_FORMAT_WRONG)
        pos += 1
    return positive, value, num, denom, s[suffix_start:]


def _interpret_suffix(suffix: str) -> tuple[int, int, str]:
    """Return (base, exponent, format) for a suffix, as upstream's suffixer does."""
    exp = _DEC_SUFFIXES.get(suffix)
    if exp is not None:
        return 10, exp, DECIMAL_SI
    exp = _BIN_SUFFIXES.get(suffix)
    if exp is not None:
        return 2, exp, BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        text = suffix[1:]
        # strconv.ParseInt(text, 10, 64): optional sign then digits, within int64.
        body = text[1:] if text[0] in "+-" else text
        if not body or any(c not in _DIGITS for c in body):
            raise QuantityError(ERR_SUFFIX)
        parsed = int(text)
        # The exponent must fit the int32 scale (and its negation); upstream rejects
        # anything beyond instead of truncating it to an unrelated value.
        if not -_INT32_MAX <= parsed <= _INT32_MAX:
            raise QuantityError(ERR_SUFFIX)
        return 10, parsed, DECIMAL_EXPONENT
    raise QuantityError(ERR_SUFFIX)


def parse_text(s: str) -> tuple[int, int, str, str | None]:
    """Parse ``s`` into (unscaled, exp, format, remembered string or None)."""
    if not s:
        raise QuantityError(ERR_FORMAT_WRONG)
    if s == "0":
        return 0, 0, DECIMAL_SI, "0"
    positive, value, num, denom, suffix = _parse_string(s)
    base, exponent, fmt = _interpret_suffix(suffix)

    mantissa = 1
    scale = 0
    if fmt == BINARY_SI:
        if exponent >= 0 and not denom:
            mantissa = 1 << exponent
            precision = 15 - len(num) - _BIN_PRECISION_DROP[exponent] - 1
        else:
            precision = -1
    else:
        scale = exponent
        precision = 18 - (len(num) + len(denom))

    if precision >= 0:
        scale -= len(denom)
        if scale >= NANO:
            shifted = num + denom
            v = int(shifted)
            result = v * mantissa
            if result <= INT64_MAX:
                if not positive:
                    result = -result
                keep: str | None = None
                if fmt == BINARY_SI:
                    if exponent % 10 == 0 and v & 0x07 != 0:
                        keep = s
                elif scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0":
                    keep = s
                u, e = strip_tens(result, scale)
                return u, e, fmt, keep

    # Slow path (upstream: inf.Dec arithmetic).
    digits = value.lstrip("+-")
    if not any(c in _DIGITS for c in digits):
        raise QuantityError(ERR_NUMERIC)
    int_part, _, frac_part = digits.partition(".")
    u = int((int_part + frac_part) or "0")
    e = -len(frac_part)
    if base == 10:
        e += exponent
    else:
        u <<= exponent
    if u != 0:
        u, e = round_up_to_nano(u, e)
    u, e = strip_tens(u, e)
    if fmt == BINARY_SI:
        if cmp_parts(u, e, INT64_MAX, 0) > 0:
            u, e = INT64_MAX, 0
        if u != 0 and cmp_parts(u, e, 1, 0) < 0:
            fmt = DECIMAL_SI
    if not positive:
        u = -u
    return u, e, fmt, None


def cmp_parts(u1: int, e1: int, u2: int, e2: int) -> int:
    """Compare ``u1*10**e1`` with ``u2*10**e2`` exactly, without huge powers when avoidable."""
    if e1 == e2:
        return (u1 > u2) - (u1 < u2)
    s1 = (u1 > 0) - (u1 < 0)
    s2 = (u2 > 0) - (u2 < 0)
    if s1 != s2 or s1 == 0:
        return (s1 > s2) - (s1 < s2)
    diff = e1 - e2
    if abs(diff) > _ALIGN_LIMIT:
        # Magnitudes differ by more than the digits can make up for.
        m1 = len(str(abs(u1))) + e1
        m2 = len(str(abs(u2))) + e2
        if m1 != m2:
            bigger = 1 if m1 > m2 else -1
            return bigger * s1
    if diff > 0:
        a, b = u1 * 10**diff, u2
    else:
        a, b = u1, u2 * 10 ** (-diff)
    return (a > b) - (a < b)


def ceil_scaled(u: int, exp: int) -> int:
    """``u * 10**exp`` rounded to an integer away from zero."""
    if exp > MATERIALISE_LIMIT:
        raise QuantityError(f"quantity {u}e{exp} is too large to convert to an integer")
    if exp >= 0:
        return u * 10**exp
    neg = u < 0
    a = -u if neg else u
    q, r = divmod(a, 10 ** (-exp))
    if r:
        q += 1
    return -q if neg else q
