"""Whether this node's kubelet declares a feature (``Node.status.declaredFeatures``).

The 1.37 API server's NodeDeclaredFeatures admission refuses a ResourceSlice whose devices
carry ``nodeAllocatableResources`` for a node that does not declare
``DRANodeAllocatableResources`` (``node "n" does not support DRANodeAllocatableResources
feature``, 403) -- the whole pool would then fail to publish. The kubelet declares it when its
own gate is on, so the plugin asks its Node before publishing the overhead and leaves the
overhead out, with a warning, where the kubelet would not apply it anyway.
"""

from __future__ import annotations

import json
import logging

from kubernetes.client import CoreV1Api
from kubernetes.client.rest import ApiException
from urllib3.exceptions import HTTPError as TransportError

log = logging.getLogger(__name__)

NODE_ALLOCATABLE_FEATURE = "DRANodeAllocatableResources"


def declared_features(api_client, node_name: str) -> list[str] | None:
    """The node's declared features, or None when the Node cannot be read."""
    try:
        raw = CoreV1Api(api_client).read_node(node_name, _preload_content=False, _request_timeout=10)
        node = json.loads(raw.data)
    except (ApiException, OSError, TransportError, ValueError) as err:
        reason = f"{err.status} {err.reason}" if isinstance(err, ApiException) else str(err)
        log.warning("cannot read this node's declared features", extra={"node": node_name, "error": reason})
        return None
    features = (node.get("status") or {}).get("declaredFeatures") or []
    return [str(f) for f in features] if isinstance(features, list) else []
