"""Structured-parameters allocator with kube-scheduler semantics, per version (1.34-1.37).

Given DeviceClasses, ResourceSlices, what is already in use and a node, find devices for
a set of ResourceClaims exactly as the upstream allocator
(``k8s.io/dynamic-resource-allocation/structured``) of a given Kubernetes version would:
same variant (stable/incubating/experimental), pool gathering and order, checks,
depth-first search, results and error messages. ``Allocator.for_version(version, ...)``
is the entry point for a :class:`dra.versions.KubernetesVersion`; ``Allocator(features,
...)`` keeps the 1.35 behaviour. Exactness is checked against the real library by
``dra.testing.oracle`` (``tests/test_oracle_allocator*.py``, ``make fuzz``). Modules, in the
order the algorithm uses them:

* :mod:`~dra.allocator.features`, :mod:`~dra.allocator.state` - inputs besides objects
* :mod:`~dra.allocator.variants` - which variant a version runs and how it behaves
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
