"""Read glibc's ``ld.so.cache`` (``/etc/ld.so.cache``) of a driver root, as the NVIDIA
container toolkit does to find the driver's libraries.

The cache maps sonames (``libcuda.so.1``) to paths (``/usr/lib/x86_64-linux-gnu/libcuda.so.1``)
*inside* the root it was built for. Two layouts exist (glibc ``elf/cache.c``):

* the "new" format, alone (glibc >= 2.32 default): header ``glibc-ld.so.cache1.1``, ``nlibs``,
  ``len_strings``, flags, extension offset (48 bytes), then 24-byte entries
  ``{int32 flags; uint32 key, value; uint32 osversion; uint64 hwcap}``;
* the old ``ld.so-1.7.0`` table (12-byte entries) followed by the new one at an 8-byte
  aligned offset (older distributions).

String offsets are relative to the new header. Only 64-bit ELF entries of this machine's
architecture are returned (flag type ``FLAG_ELF_LIBC6`` = 3 with the x86-64 or AArch64 arch
bits), so a 32-bit compat library never shadows the one a 64-bit container needs.
"""

from __future__ import annotations

import platform
import struct
from pathlib import Path

NEW_MAGIC = b"glibc-ld.so.cache1.1"
OLD_MAGIC = b"ld.so-1.7.0"
_NEW_HEADER = struct.Struct("<20sIIB3xI12x")  # magic+version, nlibs, len_strings, flags, ext offset
_NEW_ENTRY = struct.Struct("<iIIIQ")
_OLD_ENTRY_SIZE = 12
FLAG_ELF_LIBC6 = 0x0003
ARCH_FLAGS = {"x86_64": 0x0300, "aarch64": 0x0A00}


class LdCacheError(Exception):
    """The file is not an ld.so.cache this reader understands."""


def _arch_flag(machine: str | None = None) -> int | None:
    return ARCH_FLAGS.get(machine or platform.machine())


def parse(data: bytes, machine: str | None = None) -> list[tuple[str, str]]:
    """``(soname, path)`` pairs in cache order (the order the dynamic loader prefers)."""
    if data.startswith(NEW_MAGIC):
        base = 0
    elif data.startswith(OLD_MAGIC):
        (nlibs,) = struct.unpack_from("<I", data, 12)
        base = 16 + nlibs * _OLD_ENTRY_SIZE
        base = (base + 7) & ~7
        if not data[base:].startswith(NEW_MAGIC):
            raise LdCacheError("old-format ld.so.cache without the new table")
    else:
        raise LdCacheError("not an ld.so.cache (unknown magic)")
    if len(data) < base + _NEW_HEADER.size:
        raise LdCacheError("truncated header")
    _, nlibs, _, _, _ = _NEW_HEADER.unpack_from(data, base)
    entries_at = base + _NEW_HEADER.size
    if len(data) < entries_at + nlibs * _NEW_ENTRY.size:
        raise LdCacheError("truncated entry table")
    arch = _arch_flag(machine)
    out = []
    for i in range(nlibs):
        flags, key, value, _, _ = _NEW_ENTRY.unpack_from(data, entries_at + i * _NEW_ENTRY.size)
        if flags & 0x00FF != FLAG_ELF_LIBC6 or (arch is not None and flags & 0xFF00 != arch):
            continue
        out.append((_string(data, base + key), _string(data, base + value)))
    return out


def _string(data: bytes, offset: int) -> str:
    end = data.find(b"\0", offset)
    if offset >= len(data) or end < 0:
        raise LdCacheError("string offset outside the file")
    return data[offset:end].decode("utf-8", "surrogateescape")


def read(root: Path, machine: str | None = None) -> list[tuple[str, str]]:
    """The entries of ``<root>/etc/ld.so.cache``; [] when there is none or it is unreadable."""
    try:
        return parse((Path(root) / "etc" / "ld.so.cache").read_bytes(), machine)
    except (OSError, LdCacheError, struct.error):
        return []
