"""Core Kubernetes types the DRA objects use: ObjectMeta, conditions, NodeSelector, Node.

``ObjectMeta`` carries every field the API server writes (managedFields, ownerReferences,
timestamps, ...) so that ``kubectl get -o yaml`` output loads unchanged.  ``Node`` keeps
``spec`` and ``status`` free-form: only its labels and name matter to DRA.
"""

from __future__ import annotations

from typing import Any, ClassVar, Optional

from pydantic import Field

from dra.api.base import Int64, K8sModel, Time, TopLevelModel

__all__ = [
    "OwnerReference",
    "ManagedFieldsEntry",
    "ObjectMeta",
    "Condition",
    "NodeSelectorRequirement",
    "NodeSelectorTerm",
    "NodeSelector",
    "Node",
]


class OwnerReference(K8sModel):
    api_version: Optional[str] = None
    kind: Optional[str] = None
    name: Optional[str] = None
    uid: Optional[str] = None
    controller: Optional[bool] = None
    block_owner_deletion: Optional[bool] = None


class ManagedFieldsEntry(K8sModel):
    manager: Optional[str] = None
    operation: Optional[str] = None
    api_version: Optional[str] = None
    time: Optional[Time] = None
    fields_type: Optional[str] = None
    fields_v1: Optional[dict[str, Any]] = Field(default=None, alias="fieldsV1")
    subresource: Optional[str] = None


class ObjectMeta(K8sModel):
    name: Optional[str] = None
    generate_name: Optional[str] = None
    namespace: Optional[str] = None
    self_link: Optional[str] = None
    uid: Optional[str] = None
    resource_version: Optional[str] = None
    generation: Optional[Int64] = None
    creation_timestamp: Optional[Time] = None
    deletion_timestamp: Optional[Time] = None
    deletion_grace_period_seconds: Optional[Int64] = None
    labels: Optional[dict[str, str]] = None
    annotations: Optional[dict[str, str]] = None
    owner_references: Optional[list[OwnerReference]] = None
    finalizers: Optional[list[str]] = None
    managed_fields: Optional[list[ManagedFieldsEntry]] = None


class Condition(K8sModel):
    """``metav1.Condition``."""

    type: Optional[str] = None
    status: Optional[str] = None
    observed_generation: Optional[Int64] = None
    last_transition_time: Optional[Time] = None
    reason: Optional[str] = None
    message: Optional[str] = None


class NodeSelectorRequirement(K8sModel):
    key: str
    operator: str
    values: Optional[list[str]] = None


class NodeSelectorTerm(K8sModel):
    match_expressions: Optional[list[NodeSelectorRequirement]] = None
    match_fields: Optional[list[NodeSelectorRequirement]] = None


class NodeSelector(K8sModel):
    node_selector_terms: list[NodeSelectorTerm]


class Node(TopLevelModel):
    """core/v1 Node: metadata plus free-form spec and status."""

    API_VERSION: ClassVar[str] = "v1"
    KIND: ClassVar[str] = "Node"

    api_version: str = "v1"
    kind: str = "Node"
    metadata: Optional[ObjectMeta] = None
    spec: Optional[dict[str, Any]] = None
    status: Optional[dict[str, Any]] = None

    @property
    def name(self) -> str:
        return (self.metadata.name if self.metadata else None) or ""

    @property
    def labels(self) -> dict[str, str]:
        return (self.metadata.labels if self.metadata else None) or {}
