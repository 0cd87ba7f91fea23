"""Kubernetes Dynamic Resource Allocation (resource.k8s.io/v1) for NVIDIA GPUs.

Layers, each importing only from those above it in this list (see DESIGN.md):
``api`` (objects, Quantity, validation, YAML/JSON), ``cel`` (device selectors),
``allocator`` (structured allocation), ``gpu`` (inventory), ``slices`` (ResourceSlices,
publishing), ``plugin`` (kubelet plugin). ``testing`` ships hypothesis strategies and
conformance runners; ``cli`` is the ``dra`` command.
"""

__version__ = "0.1.0"
