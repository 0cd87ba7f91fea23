"""Semantic versions (semver 2.0.0) as the Kubernetes CEL ``semver`` library sees them.

Parsing is strict like blang/semver's ``Parse`` (what Kubernetes uses): ``MAJOR.MINOR.PATCH``
with no leading zeros, optional ``-pre.release`` and ``+build`` parts. ``normalize=True``
mirrors Kubernetes' ``normalizeAndParse``: drop a leading ``v``, strip leading zeros and fill
in a missing minor/patch with 0. Ordering follows semver 2.0.0 section 11 (pre-releases sort
before the release; numeric identifiers compare numerically and below alphanumeric ones);
build metadata is ignored for ordering and equality.
"""

from __future__ import annotations

import re

_IDENT = re.compile(r"[0-9A-Za-z-]+\Z")


class SemverError(ValueError):
    """A string is not a valid semantic version."""


class Semver:
    """An immutable semantic version."""

    __slots__ = ("major", "minor", "patch", "pre", "build", "_key")

    cel_type_name = "kubernetes.Semver"

    def __init__(self, text: str, normalize: bool = False) -> None:
        if normalize:
            text = _normalize(text)
        major, minor, patch, pre, build = _parse(text)
        self.major, self.minor, self.patch = major, minor, patch
        self.pre: tuple[int | str, ...] = pre
        self.build: tuple[str, ...] = build
        # Sort key: a release (no pre-release) sorts after all of its pre-releases; numeric
        # identifiers sort before alphanumeric ones.
        pre_key = tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in pre)
        self._key = (major, minor, patch, 1 if not pre else 0, pre_key)

    @classmethod
    def parse(cls, text: str, normalize: bool = False) -> "Semver":
        return cls(text, normalize)

    @staticmethod
    def is_valid(text: str, normalize: bool = False) -> bool:
        try:
            Semver(text, normalize)
        except SemverError:
            return False
        return True

    def compare(self, other: "Semver") -> int:
        return (self._key > other._key) - (self._key < other._key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Semver) and self._key == other._key

    def __lt__(self, other: "Semver") -> bool:
        if not isinstance(other, Semver):
            return NotImplemented
        return self._key < other._key

    def __gt__(self, other: "Semver") -> bool:
        if not isinstance(other, Semver):
            return NotImplemented
        return self._key > other._key

    def __le__(self, other: "Semver") -> bool:
        if not isinstance(other, Semver):
            return NotImplemented
        return self._key <= other._key

    def __ge__(self, other: "Semver") -> bool:
        if not isinstance(other, Semver):
            return NotImplemented
        return self._key >= other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            text += "-" + ".".join(str(p) for p in self.pre)
        if self.build:
            text += "+" + ".".join(self.build)
        return text

    def __repr__(self) -> str:
        return f"Semver({str(self)!r})"


def _parse(text: str) -> tuple[int, int, int, tuple[int | str, ...], tuple[str, ...]]:
    if not isinstance(text, str) or not text:
        raise SemverError("version string empty")
    core, plus, build_text = text.partition("+")
    core, dash, pre_text = core.partition("-")
    parts = core.split(".")
    if len(parts) != 3:
        raise SemverError(f"no major, minor and patch version in {text!r}")
    numbers = []
    for name, part in zip(("major", "minor", "patch"), parts):
        if not part.isascii() or not part.isdigit():
            raise SemverError(f"invalid character(s) in {name} number {part!r}")
        if len(part) > 1 and part[0] == "0":
            raise SemverError(f"{name} number must not contain leading zeroes {part!r}")
        numbers.append(int(part))
    pre: list[int | str] = []
    if dash:
        for ident in pre_text.split("."):
            if not ident or not _IDENT.match(ident):
                raise SemverError(f"invalid pre-release identifier {ident!r}")
            if ident.isdigit():
                if len(ident) > 1 and ident[0] == "0":
                    raise SemverError(f"pre-release number must not contain leading zeroes {ident!r}")
                pre.append(int(ident))
            else:
                pre.append(ident)
    build: list[str] = []
    if plus:
        for ident in build_text.split("."):
            if not ident or not _IDENT.match(ident):
                raise SemverError(f"invalid build metadata identifier {ident!r}")
            build.append(ident)
    return numbers[0], numbers[1], numbers[2], tuple(pre), tuple(build)


def _normalize(text: str) -> str:
    if text.startswith("v"):
        text = text[1:]
    parts = text.split(".", 2)
    for i, part in enumerate(parts):
        if len(part) > 1:
            stripped = part.lstrip("0")
            if not stripped or not stripped[0].isdigit():
                stripped = "0" + stripped
            parts[i] = stripped
    if len(parts) < 3:
        if "+" in parts[-1] or "-" in parts[-1]:
            raise SemverError("short version cannot contain PreRelease/Build meta data")
        parts += ["0"] * (3 - len(parts))
    return ".".join(parts)
