"""ResourceSlice names whose lexical order is the driver's slice order.

Kubernetes 1.36's scheduler (the *incubating* allocator, on by default) walks a pool's
slices sorted by name, so the order of slice names decides which devices it tries first.
Like upstream's resourceslice controller (``k8s.io/dynamic-resource-allocation``
``resourceslice/resourceslicecontroller.go``, v0.36: ``encodeIndex``/``decodeIndex``/
``getIndexLength``), a slice's name starts with its index in the pool, in base 16,
zero-padded to at least five digits (more when a pool has more than 16^5 slices), so that
names sort as the slices are ordered: ``<index>-<driver>-<node>-<random suffix>``.

The index in a name is also how the publisher pairs an existing slice with the desired
slice of the same position (a slice whose name carries another index, or none, is never
re-used for this position), so names stay stable while the layout does.
"""

from __future__ import annotations

import hashlib

INDEX_MIN_LENGTH = 5  # upstream resourceSliceIndexMinLength
MAX_NAME = 253
_SUFFIX = 5  # the API server's generateName suffix


def index_length(count: int) -> int:
    """Digits of the index prefix for a pool of ``count`` slices (upstream getIndexLength)."""
    return max(INDEX_MIN_LENGTH, len(format(max(count - 1, 0), "x")))


def encode_index(index: int, length: int) -> str:
    return format(index, "x").zfill(length)


def decode_index(name: str, length: int) -> int:
    """The index a slice name carries, or -1 when it carries none of ``length`` digits."""
    prefix, sep, _ = name.partition("-")
    if not sep or len(prefix) != length:
        return -1
    try:
        return int(prefix, 16)
    except ValueError:
        return -1


def _fit(text: str, room: int) -> str:
    if len(text) <= room:
        return text
    digest = hashlib.sha1(text.encode()).hexdigest()[:10]
    return f"{text[: room - 11]}-{digest}"


def generate_name(index: int, count: int, driver: str, node: str) -> str:
    """``metadata.generateName`` for the ``index``-th of ``count`` slices (the server adds 5 characters)."""
    head = f"{encode_index(index, index_length(count))}-{driver}-"
    return head + _fit(node, MAX_NAME - _SUFFIX - len(head) - 1) + "-"


def slice_name(index: int, count: int, driver: str, node: str) -> str:
    """A fixed name (for offline output: ``dra slices``) with the same ordering prefix."""
    head = f"{encode_index(index, index_length(count))}-{driver}-"
    return head + _fit(node, MAX_NAME - len(head))
