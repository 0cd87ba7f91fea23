"""The driver's version-dependent fields, accepted by the real API server (every DRA gate on).

* ``resource.kubernetes.io/numaNode`` as a one-element ``ints`` list (1.36+, DRAListTypeAttributes);
* the GPU host-memory overhead as ``nodeAllocatableResources`` (1.37, DRANodeAllocatableResources).

Published through :class:`SlicePublisher`, which compares what it sent with what the server
stored and fails on any dropped field, so "accepted" here means created, validated and kept.
The 1.37 NodeDeclaredFeatures admission refuses overhead for a Node whose kubelet does not
declare DRANodeAllocatableResources: proven here, and why the plugin checks its Node first
(:mod:`dra.plugin.node_features`).
"""

from __future__ import annotations

import pytest
from kubernetes import client

from dra.gpu.builtin import load_profile
from dra.slices import DRIVER_NAME, build_slices
from dra.slices.overhead import overhead_blocker, parse_overhead
from dra.plugin.node_features import NODE_ALLOCATABLE_FEATURE, declared_features
from dra.slices.publisher import PublishError, SlicePublisher
from dra.testing.cluster.fleet import create_node
from dra.testing.cluster.rest import raw

pytestmark = pytest.mark.real

NUMA = "resource.kubernetes.io/numaNode"
OVERHEAD = "gpu.memory.perPod=256Mi,gpu.memory.perContainer=64Mi,mig.memory.perPod=128Mi"


@pytest.mark.parametrize("mode", ["whole", "dynamic-mig"])
def test_list_numa_and_overhead_are_accepted_and_kept(cluster, mode):
    version = cluster.version
    if version.minor in ("1.34", "1.35"):
        pytest.skip(f"Kubernetes {version.minor} has neither list attributes nor nodeAllocatableResources")
    node = f"fields-{mode}"
    inv = load_profile("dgx-h100-mig", node)
    api = cluster.api_client()
    stored_node = create_node(api, inv)
    overheads = parse_overhead(OVERHEAD)
    slices = build_slices(inv, mode=mode, k8s_version=version.minor, gates=dict(version.gates), overheads=overheads)
    publisher = SlicePublisher(api, DRIVER_NAME, node, stored_node.metadata.uid)
    if overhead_blocker(version) is None:
        with pytest.raises(PublishError, match=f'node "{node}" does not support DRANodeAllocatableResources'):
            publisher.publish(slices)
        # what a kubelet with the gate on reports
        client.CoreV1Api(api).patch_node_status(node, {"status": {"declaredFeatures": [NODE_ALLOCATABLE_FEATURE]}})
        assert NODE_ALLOCATABLE_FEATURE in declared_features(api, node)
    publisher.publish(slices)
    items = raw(api, "GET", "/apis/resource.k8s.io/v1/resourceslices",
                query=[("fieldSelector", f"spec.nodeName={node}")], timeout=5)["items"]
    devices = [d for s in items for d in s["spec"].get("devices") or []]
    assert devices and all(d["attributes"][NUMA].keys() == {"ints"} for d in devices)
    with_overhead = [d for d in devices if "nodeAllocatableResources" in d]
    if overhead_blocker(version) is None:
        assert len(with_overhead) == len(devices)
        gpu = next(d for d in devices if d["attributes"]["type"]["string"] == "gpu")
        assert gpu["nodeAllocatableResources"] == {"memory": {"overhead": {"perPod": "256Mi", "perContainer": "64Mi"}}}
    else:
        assert with_overhead == []  # 1.36: the overhead cannot be said, so it is not sent
