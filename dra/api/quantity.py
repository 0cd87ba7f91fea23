"""Kubernetes ``resource.Quantity``: exact fixed-point amounts with SI / binary suffixes.

This module mirrors the behaviour of apimachinery's ``pkg/api/resource`` so that values read
from manifests, compared by the allocator and written back out look exactly like what the
API server would store:

* Parsing follows ``ParseQuantity``: an optional sign, digits with at most one ``.``, then a
  suffix (binary ``Ki``..``Ei``, decimal ``n u m "" k M G T P E`` or a decimal exponent
  ``e<int>``/``E<int>``).  Values finer than one nano are rounded *up* (away from zero), and
  binary values are capped at 2^63-1, as upstream does.  Errors use upstream's wording.
* The value is held exactly as ``unscaled * 10**exp`` with Python ints (never floats), so
  arithmetic and comparisons are exact.  Equality and hashing are by numeric value:
  ``Quantity("1Gi") == Quantity("1024Mi")``.
* ``str(q)`` is upstream's ``String()``: the remembered format (BinarySI, DecimalSI,
  DecimalExponent) in canonical form (largest suffix without fractional digits).  Like
  upstream, an input string that is already in canonical shape is kept verbatim (so
  ``"+1"`` prints as ``"+1"``), which is what the API server would persist.

Corner cases follow the newest upstream rules (the fixes landed after 1.35, and only change
values no real manifest carries): a DecimalSI value beyond ``E`` prints in exponent notation
(``1000E`` -> ``1e21``) and a BinarySI value beyond ``Ei`` in exact decimal form instead of
silently losing its magnitude; an exponent outside the int32 range is rejected instead of
truncated.  ``value()`` rounds negative fractions away from zero on every path (upstream's
big-decimal path rounds them toward zero).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from dra.api.quantity_parse import (
    BIN_BY_POWER,
    DEC_BY_EXP,
    INT64_MAX,
    INT64_MIN,
    MATERIALISE_LIMIT,
    NANO,
    SPLIT_RE,
    BINARY_SI,
    DECIMAL_EXPONENT,
    DECIMAL_SI,
    ERR_FORMAT_WRONG,
    ERR_NUMERIC,
    ERR_SUFFIX,
    FORMATS,
    FormatName,
    QuantityError,
    ceil_scaled,
    cmp_parts,
    parse_text,
    round_up_to_nano,
    strip_tens,
)

__all__ = ["Quantity", "QuantityError", "FORMATS", "ERR_FORMAT_WRONG", "ERR_NUMERIC", "ERR_SUFFIX"]

# Parsed quantities are immutable, so identical strings can share one object.
_CACHE: dict[str, "Quantity"] = {}
_CACHE_MAX = 65536


class Quantity:
    """An exact Kubernetes quantity; see the module docstring for the semantics."""

    __slots__ = ("_u", "_e", "_fmt", "_s", "_hash")

    _u: int
    _e: int
    _fmt: str
    _s: str | None
    _hash: int | None

    def __new__(cls, value: "str | int | Quantity" = "0") -> "Quantity":
        if isinstance(value, Quantity):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return cls.from_int(value)
        raise QuantityError(f"cannot make a quantity from {type(value).__name__} {value!r}")

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def _make(cls, u: int, e: int, fmt: str, s: str | None = None) -> "Quantity":
        obj = object.__new__(cls)
        object.__setattr__(obj, "_u", u)
        object.__setattr__(obj, "_e", e)
        object.__setattr__(obj, "_fmt", fmt)
        object.__setattr__(obj, "_s", s)
        object.__setattr__(obj, "_hash", None)
        return obj

    @classmethod
    def parse(cls, text: str) -> "Quantity":
        """Parse a quantity string (upstream ``ParseQuantity``); raises :class:`QuantityError`."""
        if not isinstance(text, str):
            raise QuantityError(f"cannot make a quantity from {type(text).__name__} {text!r}")
        q = _CACHE.get(text)
        if q is not None:
            return q
        u, e, fmt, s = parse_text(text)
        q = cls._make(u, e, fmt, s)
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[text] = q
        return q

    @classmethod
    def from_json(cls, value: Any) -> "Quantity":
        """Accept what a JSON/YAML document may hold for a quantity (upstream UnmarshalJSON).

        Strings are trimmed of surrounding white space; plain JSON numbers are parsed from their
        text form, as the Go decoder does.
        """
        if isinstance(value, Quantity):
            return value
        if isinstance(value, str):
            return cls.parse(value.strip())
        if isinstance(value, bool):
            raise QuantityError(f"cannot make a quantity from bool {value!r}")
        if isinstance(value, int):
            return cls.parse(str(value))
        if isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                raise QuantityError(ERR_NUMERIC)
            return cls.parse(repr(value).replace("e+", "e"))
        raise QuantityError(f"cannot make a quantity from {type(value).__name__} {value!r}")

    @classmethod
    def from_int(cls, n: int, fmt: FormatName = "DecimalSI") -> "Quantity":
        """Upstream ``NewQuantity(n, fmt)``."""
        if fmt not in FORMATS:
            raise QuantityError(f"unknown quantity format {fmt!r}")
        u, e = strip_tens(int(n), 0)
        return cls._make(u, e, fmt)

    @classmethod
    def from_milli(cls, n: int, fmt: FormatName = "DecimalSI") -> "Quantity":
        """Upstream ``NewMilliQuantity(n, fmt)``: the value ``n / 1000``."""
        if fmt not in FORMATS:
            raise QuantityError(f"unknown quantity format {fmt!r}")
        u, e = strip_tens(int(n), -3)
        return cls._make(u, e, fmt)

    @classmethod
    def from_scaled(cls, n: int, scale: int, fmt: FormatName = "DecimalSI") -> "Quantity":
        """The value ``n * 10**scale`` (upstream ``NewScaledQuantity``), rounded up to nano."""
        u, e = round_up_to_nano(int(n), int(scale))
        u, e = strip_tens(u, e)
        return cls._make(u, e, fmt)

    @classmethod
    def from_fraction(cls, value: Fraction | int, fmt: FormatName = "DecimalSI") -> "Quantity":
        """An exact rational value, rounded up (away from zero) to nano precision."""
        f = Fraction(value)
        neg = f < 0
        a = -f if neg else f
        n, r = divmod(a.numerator * 10**9, a.denominator)
        if r:
            n += 1
        u, e = strip_tens(-n if neg else n, NANO)
        return cls._make(u, e, fmt)

    # -- immutability / pickling ------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Quantity is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Quantity._make, (self._u, self._e, self._fmt, self._s))

    def __copy__(self) -> "Quantity":
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> "Quantity":
        return self

    # -- accessors -----------------------------------------------------------------------

    @property
    def format(self) -> str:
        """``"BinarySI"``, ``"DecimalSI"`` or ``"DecimalExponent"``."""
        return self._fmt

    def as_fraction(self) -> Fraction:
        if self._e > MATERIALISE_LIMIT:
            raise QuantityError(f"quantity {self} is too large to convert to a fraction")
        if self._e >= 0:
            return Fraction(self._u * 10**self._e)
        return Fraction(self._u, 10 ** (-self._e))

    def as_decimal_parts(self) -> tuple[int, int]:
        """``(unscaled, exponent)`` with value ``unscaled * 10**exponent``, normalised."""
        return self._u, self._e

    def sign(self) -> int:
        return (self._u > 0) - (self._u < 0)

    def is_zero(self) -> bool:
        return self._u == 0

    def is_integer(self) -> bool:
        return self._e >= 0

    def value(self) -> int:
        """Upstream ``Value()``: the value rounded to an integer away from zero."""
        return ceil_scaled(self._u, self._e)

    def milli_value(self) -> int:
        """Upstream ``MilliValue()``: ``value * 1000`` rounded away from zero."""
        return ceil_scaled(self._u, self._e + 3)

    def scaled_value(self, scale: int) -> int:
        """Upstream ``ScaledValue(scale)``: ``value / 10**scale`` rounded away from zero."""
        return ceil_scaled(self._u, self._e - scale)

    def as_integer(self) -> int:
        """The exact integer value; raises :class:`QuantityError` if fractional or beyond int64."""
        if self._e < 0:
            raise QuantityError(f"quantity {self} is not an integer")
        if self._e > 19:
            raise QuantityError(f"quantity {self} does not fit into int64")
        n = self._u * 10**self._e
        if not INT64_MIN <= n <= INT64_MAX:
            raise QuantityError(f"quantity {self} does not fit into int64")
        return n

    def as_approximate_float(self) -> float:
        try:
            return float(self.as_fraction())
        except (OverflowError, QuantityError):
            return float("inf") if self._u > 0 else float("-inf")

    def with_format(self, fmt: FormatName) -> "Quantity":
        """The same value printed in another format."""
        if fmt not in FORMATS:
            raise QuantityError(f"unknown quantity format {fmt!r}")
        if fmt == self._fmt:
            return self
        return Quantity._make(self._u, self._e, fmt)

    # -- printing ------------------------------------------------------------------------

    def canonical(self) -> str:
        """Upstream ``CanonicalizeBytes``: the canonical text, ignoring any remembered input."""
        u, e = self._u, self._e
        if u == 0:
            return "0"
        fmt = self._fmt
        if fmt == BINARY_SI:
            if cmp_parts(u, e, -1024, 0) > 0 and cmp_parts(u, e, 1024, 0) < 0:
                fmt = DECIMAL_SI
            elif e < 0 or e > MATERIALISE_LIMIT:
                # Not an integer: show as DecimalSI so no precision is lost.
                fmt = DECIMAL_SI
        elif fmt not in FORMATS:
            fmt = DECIMAL_EXPONENT
        if fmt == BINARY_SI:
            n = u * 10**e
            power = 0
            while n % 1024 == 0:
                n //= 1024
                power += 1
            if power <= 6:
                return f"{n}{BIN_BY_POWER[power]}"
            # Past "Ei" there is no binary suffix: exact decimal (exponent) form instead.
            fmt = DECIMAL_EXPONENT
        r = e % 3  # floor the exponent to a multiple of three
        if r:
            u *= 10**r
            e -= r
        if fmt == DECIMAL_SI and e in DEC_BY_EXP:
            return f"{u}{DEC_BY_EXP[e]}"
        # DecimalExponent, or DecimalSI beyond "E" / below "n": exponent notation.
        return f"{u}e{e}" if e else str(u)

    def __str__(self) -> str:
        s = self._s
        if s is None:
            s = self.canonical()
            object.__setattr__(self, "_s", s)
        return s

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    # -- comparison ----------------------------------------------------------------------

    @staticmethod
    def _parts(other: Any) -> tuple[int, int] | None:
        if isinstance(other, Quantity):
            return other._u, other._e
        if isinstance(other, int) and not isinstance(other, bool):
            return strip_tens(other, 0)
        return None

    def cmp(self, other: "Quantity | int") -> int:
        p = self._parts(other)
        if p is None:
            raise TypeError(f"cannot compare Quantity with {type(other).__name__}")
        return cmp_parts(self._u, self._e, p[0], p[1])

    def __eq__(self, other: object) -> bool:
        p = self._parts(other)
        if p is None:
            return NotImplemented
        return self._u == p[0] and self._e == p[1]

    def __ne__(self, other: object) -> bool:
        r = self.__eq__(other)
        return r if r is NotImplemented else not r

    def __lt__(self, other: "Quantity | int") -> bool:
        p = self._parts(other)
        if p is None:
            return NotImplemented
        return cmp_parts(self._u, self._e, p[0], p[1]) < 0

    def __le__(self, other: "Quantity | int") -> bool:
        p = self._parts(other)
        if p is None:
            return NotImplemented
        return cmp_parts(self._u, self._e, p[0], p[1]) <= 0

    def __gt__(self, other: "Quantity | int") -> bool:
        p = self._parts(other)
        if p is None:
            return NotImplemented
        return cmp_parts(self._u, self._e, p[0], p[1]) > 0

    def __ge__(self, other: "Quantity | int") -> bool:
        p = self._parts(other)
        if p is None:
            return NotImplemented
        return cmp_parts(self._u, self._e, p[0], p[1]) >= 0

    def __hash__(self) -> int:
        h = self._hash
        if h is None:
            # Consistent with int/Fraction hashing so that Quantity(5) == 5 hash alike.
            if 0 <= self._e <= 64:
                h = hash(self._u * 10**self._e)
            elif -64 <= self._e < 0:
                h = hash(Fraction(self._u, 10 ** (-self._e)))
            else:
                h = hash((self._u, self._e))
            object.__setattr__(self, "_hash", h)
        return h

    def __bool__(self) -> bool:
        return self._u != 0

    # -- arithmetic (upstream Add/Sub: a zero left operand takes the right one's format) ----

    def _combine(self, other: Any, negate: bool) -> "Quantity":
        if isinstance(other, Quantity):
            ou, oe, ofmt = other._u, other._e, other._fmt
        elif isinstance(other, int) and not isinstance(other, bool):
            ou, oe = strip_tens(other, 0)
            ofmt = DECIMAL_SI
        else:
            return NotImplemented
        if negate:
            ou = -ou
        fmt = ofmt if self._u == 0 else self._fmt
        su, se = self._u, self._e
        if ou == 0:
            u, e = su, se
        elif su == 0:
            u, e = ou, oe
        elif se <= oe:
            u, e = strip_tens(su + ou * 10 ** (oe - se), se)
        else:
            u, e = strip_tens(su * 10 ** (se - oe) + ou, oe)
        return Quantity._make(u, e, fmt)

    def __add__(self, other: "Quantity | int") -> "Quantity":
        return self._combine(other, False)

    def __sub__(self, other: "Quantity | int") -> "Quantity":
        return self._combine(other, True)

    def __radd__(self, other: int) -> "Quantity":
        if isinstance(other, int) and not isinstance(other, bool):
            return Quantity.from_int(other)._combine(self, False)
        return NotImplemented

    def __rsub__(self, other: int) -> "Quantity":
        if isinstance(other, int) and not isinstance(other, bool):
            return Quantity.from_int(other)._combine(self, True)
        return NotImplemented

    def __neg__(self) -> "Quantity":
        return Quantity._make(-self._u, self._e, self._fmt)

    def __pos__(self) -> "Quantity":
        return self

    def __abs__(self) -> "Quantity":
        return self if self._u >= 0 else -self

    def __mul__(self, other: int) -> "Quantity":
        """Upstream ``Mul(int64)``: multiply by an integer (exact)."""
        if isinstance(other, int) and not isinstance(other, bool):
            u, e = strip_tens(self._u * other, self._e)
            return Quantity._make(u, e, self._fmt)
        return NotImplemented

    __rmul__ = __mul__

    # -- pydantic integration ----------------------------------------------------------

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_plain_validator_function(
            _validate_for_pydantic,
            serialization=core_schema.plain_serializer_function_ser_schema(
                str, when_used="json-unless-none"
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        return {"type": "string", "pattern": SPLIT_RE}


def _validate_for_pydantic(value: Any) -> Quantity:
    # Raised as ValueError so pydantic attaches the field path; the model layer reformats it.
    try:
        return Quantity.from_json(value)
    except QuantityError as exc:
        raise ValueError(str(exc)) from None
