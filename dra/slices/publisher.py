"""Publish a node's ResourceSlices to the API server and keep them in step with the hardware.

:class:`SlicePublisher` is the side-effect edge of :mod:`dra.slices`: the slice builder says
what the node has, the publisher makes the API server hold exactly that, with the official
``kubernetes`` client (``ResourceV1Api`` for resource.k8s.io/v1, ``CoreV1Api`` for the Node).

One call of :meth:`SlicePublisher.publish` is a reconcile loop:

1. list the slices of this driver on this node (field selectors ``spec.driver`` and
   ``spec.nodeName``; every such slice is ours, so leftovers and stale generations go);
2. plan the writes with the pure planner :mod:`dra.slices.reconcile` (which also decides the
   pool generation and orders writes so that a consumer never sees a complete-but-wrong pool);
3. perform them one by one: create with ``generateName: <index>-<driver>-<node>-`` and an owner
   reference to the Node (so the slices go when the Node goes), update with the listed
   ``resourceVersion`` (optimistic concurrency), delete with uid + resourceVersion
   preconditions.

Any retryable failure (409 conflict, 429 throttling, 5xx, timeouts, connection errors) stops
the attempt; after a capped exponential backoff with full jitter (honouring ``Retry-After``)
the loop lists again and re-plans from what the server really holds. Re-listing instead of
blindly repeating the failed call is what makes the ambiguous cases safe: a create whose
response was lost is found by the next list and not created twice, and a conflict is
resolved against the other writer's version. Attempts are bounded; the last failure is
reported as one clear :class:`PublishError`. A body the server rejects as invalid (422) or a
field the server silently drops (a disabled feature gate) is not retried: it cannot succeed.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from dra.errors import UserError
from dra.slices import reconcile
from dra.slices.publisher_backoff import Backoff
from dra.slices.publisher_metrics import PublisherMetrics
from dra.slices.reconcile import ExistingSlice, Plan, Write

log = logging.getLogger(__name__)

# Fields a kube-apiserver drops when the feature gate that guards them is off.
_GATED_FIELDS = {
    "taints": "DRADeviceTaints",
    "sharedCounters": "DRAPartitionableDevices",
    "consumesCounters": "DRAPartitionableDevices",
    "perDeviceNodeSelection": "DRAPartitionableDevices",
    "bindsToNode": "DRADeviceBindingConditions",
    "bindingConditions": "DRADeviceBindingConditions",
    "bindingFailureConditions": "DRADeviceBindingConditions",
    "allowMultipleAllocations": "DRAConsumableCapacity",
    "requestPolicy": "DRAConsumableCapacity",
}


class PublishError(UserError):
    """Publishing failed for good (after retries, or for a reason retries cannot fix)."""


class SliceRejectedError(PublishError):
    """The API server (or the client's model) refused a slice as invalid: fix the input."""


class DroppedFieldsError(PublishError):
    """The API server accepted a slice but dropped fields: a feature gate is probably off."""


class _Retry(Exception):
    """Internal: this attempt failed in a way that a later attempt may not."""

    def __init__(self, reason: str, retry_after: float | None = None, cause: str = "error",
                 status: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retry_after, self.cause, self.status = reason, retry_after, cause, status


@dataclass
class PublishResult:
    """What one :meth:`SlicePublisher.publish` did."""

    generations: dict[str, int | None] = field(default_factory=dict)  # pool -> generation (None: removed)
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    attempts: int = 0
    retries: list[str] = field(default_factory=list)  # reason of each failed attempt

    @property
    def writes(self) -> int:
        return self.created + self.updated + self.deleted


class SlicePublisher:
    """Reconciles the ResourceSlices of one driver on one node with the API server.

    Calls are serialised (one reconcile at a time per publisher); one publisher per
    driver and node is expected, as with upstream's kubelet helper.
    """

    def __init__(self, api_client: Any, driver: str, node_name: str, node_uid: str | None = None, *,
                 backoff: Backoff | None = None, request_timeout: float = 10.0,
                 clock: Callable[[], _dt.datetime] | None = None, metrics_registry: Any | None = None) -> None:
        import kubernetes.client

        self._client = kubernetes.client
        self._resource = kubernetes.client.ResourceV1Api(api_client)
        self._core = kubernetes.client.CoreV1Api(api_client)
        self.driver = driver
        self.node_name = node_name
        self.node_uid = node_uid
        self.backoff = backoff or Backoff()
        self.request_timeout = request_timeout
        self._clock = clock or (lambda: _dt.datetime.now(_dt.timezone.utc))
        self.metrics = PublisherMetrics(metrics_registry)
        self._lock = threading.Lock()

    # --- public API --------------------------------------------------------------------------
    def publish(self, desired: Sequence[Any]) -> PublishResult:
        """Make the server hold exactly ``desired`` (dra.api ResourceSlices or their dicts).

        An empty ``desired`` removes every slice of this driver on this node.
        """
        dicts = [_as_dict(item) for item in desired]
        pools = reconcile.prepare_desired(dicts, driver=self.driver, node_name=self.node_name)
        return self._reconcile(pools, need_owner=bool(pools))

    def remove_all(self) -> PublishResult:
        """Delete every slice of this driver on this node (e.g. when the plugin is uninstalled)."""
        return self._reconcile([], need_owner=False)

    def owner_reference(self) -> dict[str, Any]:
        """The Node owner reference put on every slice (the Node's uid is looked up once)."""
        if self.node_uid is None:
            node = self._call_with_retries(
                lambda: self._core.read_node(self.node_name, _request_timeout=self.request_timeout),
                what=f"read node {self.node_name}")
            self.node_uid = node.metadata.uid
        return {"apiVersion": "v1", "kind": "Node", "name": self.node_name, "uid": self.node_uid,
                "controller": True}

    # --- the loop ----------------------------------------------------------------------------
    def _reconcile(self, pools: list[reconcile.DesiredPool], *, need_owner: bool) -> PublishResult:
        with self._lock:
            return self._reconcile_locked(pools, need_owner=need_owner)

    def _reconcile_locked(self, pools: list[reconcile.DesiredPool], *, need_owner: bool) -> PublishResult:
        owner = self.owner_reference() if need_owner else None
        result = PublishResult()
        while True:
            result.attempts += 1
            try:
                existing = self._list()
                plan = reconcile.plan_publish(pools, existing, driver=self.driver, node_name=self.node_name,
                                              owner=owner, now=self._clock())
                self._execute(plan, result)
                result.generations = {p.pool: p.generation for p in plan.pools}
                result.unchanged = sum(p.unchanged for p in plan.pools)
                self.metrics.published(self.driver, result.generations)
                return result
            except _Retry as failure:
                result.retries.append(failure.reason)
                self.metrics.retried(self.driver, failure.cause)
                if result.attempts >= self.backoff.max_attempts:
                    raise PublishError(
                        f"publishing ResourceSlices of driver {self.driver} on node {self.node_name} failed after "
                        f"{result.attempts} attempts; last error: {failure.reason}") from None
                waited = self.backoff.wait(result.attempts, failure.retry_after)
                log.info("slice publish attempt %d failed (%s); retrying in %.2fs", result.attempts,
                         failure.reason, waited)

    def _list(self) -> list[ExistingSlice]:
        # Raw JSON (no model round trip): the planner compares exactly what the server stores.
        try:
            response = self._guard(lambda: self._resource.list_resource_slice(
                field_selector=f"spec.driver={self.driver},spec.nodeName={self.node_name}",
                _preload_content=False, _request_timeout=self.request_timeout), "list slices")
        except _Retry as failure:
            if failure.status == 404:
                raise PublishError("the API server does not serve resource.k8s.io/v1 resourceslices "
                                   f"(Kubernetes 1.34 or later is needed): {failure.reason}") from None
            raise
        items = json.loads(response.data).get("items") or []
        return [ExistingSlice.from_object(item) for item in items]

    def _execute(self, plan: Plan, result: PublishResult) -> None:
        for step in plan.steps():
            if step.action == "create":
                self._write(step, lambda body: self._resource.create_resource_slice(
                    body, _preload_content=False, _request_timeout=self.request_timeout))
                result.created += 1
                self.metrics.wrote(self.driver, "create")
            elif step.action == "update":
                assert step.slice is not None
                name = step.slice.name
                self._write(step, lambda body: self._resource.replace_resource_slice(
                    name, body, _preload_content=False, _request_timeout=self.request_timeout))
                result.updated += 1
                self.metrics.wrote(self.driver, "update")
            else:
                assert step.slice is not None
                self._delete(step.slice)
                result.deleted += 1
                self.metrics.wrote(self.driver, "delete")

    def _write(self, step: Write, call: Callable[[Any], Any]) -> None:
        assert step.body is not None
        model = self._model(step.body)
        # The answer is read as JSON, not as a model: what the server stored, field for field.
        response = self._guard(lambda: call(model), step.describe())
        self._check_dropped(step.body, json.loads(response.data))

    def _delete(self, slice_: ExistingSlice) -> None:
        options = self._client.V1DeleteOptions(preconditions=self._client.V1Preconditions(
            uid=slice_.uid, resource_version=slice_.resource_version))
        try:
            self._guard(lambda: self._resource.delete_resource_slice(
                slice_.name, body=options, _request_timeout=self.request_timeout), f"delete {slice_.name}")
        except _Retry as failure:
            if failure.status == 404:
                return  # already gone: that is what we wanted
            raise

    def _model(self, body: Mapping[str, Any]) -> Any:
        import pydantic

        try:
            return self._client.V1ResourceSlice.from_dict(dict(body))
        except pydantic.ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise SliceRejectedError(f"ResourceSlice for pool {body['spec']['pool']['name']}: {where}: "
                                     f"{first.get('msg')} (rejected by the kubernetes client model)") from None

    def _check_dropped(self, sent: Mapping[str, Any], stored: Mapping[str, Any]) -> None:
        missing = sorted(_leaf_paths(reconcile.omit_empty(sent.get("spec"))) -
                         _leaf_paths(reconcile.omit_empty(stored.get("spec"))))
        if not missing:
            return
        gates = sorted({gate for path in missing for part, gate in _GATED_FIELDS.items() if part in path.split(".")})
        hint = f"; the API server probably has these features disabled: {', '.join(gates)}" if gates else ""
        raise DroppedFieldsError(f"ResourceSlice {(stored.get('metadata') or {}).get('name')}: the API server "
                                 f"dropped spec fields {', '.join(missing[:5])}{hint}")

    # --- error classification ----------------------------------------------------------------
    def _call_with_retries(self, call: Callable[[], Any], what: str) -> Any:
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._guard(call, what)
            except _Retry as failure:
                if failure.status == 404:
                    raise PublishError(f"{what}: not found (is the node name {self.node_name!r} right?)") from None
                if attempt >= self.backoff.max_attempts:
                    raise PublishError(f"{what} failed after {attempt} attempts; last error: {failure.reason}") \
                        from None
                self.backoff.wait(attempt, failure.retry_after)

    def _guard(self, call: Callable[[], Any], what: str) -> Any:
        """Run one API call; map its failure to _Retry or to a final PublishError."""
        import urllib3

        try:
            return call()
        except self._client.ApiException as error:
            status = int(error.status or 0)
            reason, message, causes = _status_details(error)
            text = f"{status} {reason or error.reason}: {message}".strip()
            if status in (404, 409, 429) or status >= 500:
                cause = {404: "not_found", 409: "conflict", 429: "throttled"}.get(status, "server_error")
                raise _Retry(f"{text} ({what})", _retry_after(error), cause, status) from None
            if status == 422:
                detail = "; ".join(causes) or message
                raise SliceRejectedError(f"{what}: the API server rejected the slice as invalid: {detail}") from None
            raise PublishError(f"{what}: {text}") from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            # Timeouts, resets, refused connections: the request may or may not have happened.
            cause = "timeout" if isinstance(error, (urllib3.exceptions.TimeoutError, TimeoutError)) else "connection"
            raise _Retry(f"{type(error).__name__}: {error} ({what})", None, cause) from None


def _as_dict(item: Any) -> dict[str, Any]:
    if isinstance(item, Mapping):
        return dict(item)
    to_dict = getattr(item, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    raise TypeError(f"desired slices must be dra.api ResourceSlice objects or dicts, not {type(item).__name__}")


def _status_details(error: Any) -> tuple[str, str, list[str]]:
    try:
        body = json.loads(error.body or "{}")
    except ValueError:
        return "", str(error.body or ""), []
    causes = [f"{c.get('field')}: {c.get('message')}" if c.get("field") else str(c.get("message"))
              for c in ((body.get("details") or {}).get("causes") or [])]
    return str(body.get("reason") or ""), str(body.get("message") or ""), causes


def _retry_after(error: Any) -> float | None:
    headers = error.headers or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _leaf_paths(value: Any, prefix: str = "spec") -> set[str]:
    """Paths of the leaves of a JSON value, list indexes elided (``spec.devices.taints.key``)."""
    if isinstance(value, dict):
        found: set[str] = set()
        for key, sub in value.items():
            found |= _leaf_paths(sub, f"{prefix}.{key}")
        return found
    if isinstance(value, list):
        found = set()
        for sub in value:
            found |= _leaf_paths(sub, prefix)
        return found
    return {prefix}
