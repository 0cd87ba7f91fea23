"""Structured-parameters allocator with kube-scheduler 1.35 semantics.

Given DeviceClasses, ResourceSlices, what is already in use and a node, find devices for
a set of ResourceClaims exactly as the upstream allocator
(``k8s.io/dynamic-resource-allocation/structured``) would: same pool gathering, same
checks, same depth-first search order, same results and error messages. Modules, in the
order the algorithm uses them:

* :mod:`~dra.allocator.features`, :mod:`~dra.allocator.state` - inputs besides objects
* :mod:`~dra.allocator.model` - compact per-device view built once per slice set
* :mod:`~dra.allocator.pools` - step 1, which pools a node sees
* :mod:`~dra.allocator.requests` - step 2, per-claim checks
* :mod:`~dra.allocator.search` - step 3, the search (with
  :mod:`~dra.allocator.capacity`, :mod:`~dra.allocator.constraints`,
  :mod:`~dra.allocator.taints`)
* :mod:`~dra.allocator.results` - building ``AllocationResult``
* :mod:`~dra.allocator.explanation` - why a claim does not fit, in words
"""

from dra.allocator.allocator import AllocationStats, Allocator
from dra.allocator.errors import AllocationError
from dra.allocator.features import Features
from dra.allocator.state import AllocatedState

from dra.allocator.explanation import Explanation, explain


__all__ = [
    "AllocatedState",
    "AllocationError",
    "AllocationStats",
    "Allocator",
    "Explanation",
    "Features",
    "explain",
]
