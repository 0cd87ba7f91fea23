"""Fetch a ResourceClaim from the API server and check that this plugin may prepare it.

The kubelet sends only namespace, name and UID; the allocation lives in the claim's status.
We GET it with the official client (``ResourceV1Api``) but parse the JSON into our own
``dra.api.ResourceClaim`` (the client's generated models are slow and lag the API). Checks,
in the order the Go helper and NVIDIA's driver make them: the UID matches (the claim was not
deleted and re-created under the same name), it is allocated, and the devices of *this*
driver are in *this* node's pool and were published by it.
"""

from __future__ import annotations

import json
from typing import Any

from kubernetes.client import ApiClient, ResourceV1Api
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError as TransportError

from dra.api import ApiError, ResourceClaim
from dra.errors import UserError
from dra.plugin.types import ClaimRef


class ClaimError(UserError):
    """A claim that cannot be prepared here; ``error_type`` feeds the errors metric."""

    error_type = "claim"

    def __init__(self, message: str, error_type: str = "claim") -> None:
        super().__init__(message)
        self.error_type = error_type


class ClaimFetcher:
    def __init__(self, api_client: ApiClient, timeout: float = 10.0) -> None:
        self._api = ResourceV1Api(api_client)
        self._timeout = timeout

    def get(self, ref: ClaimRef) -> ResourceClaim:
        """The claim as a ``dra.api.ResourceClaim``, checked against ``ref``."""
        try:
            response = self._api.read_namespaced_resource_claim(
                ref.name, ref.namespace, _preload_content=False, _request_timeout=self._timeout
            )
            data: Any = json.loads(response.data)
        except ApiException as err:
            if err.status == 404:
                raise ClaimError(f"claim {ref}: not found", "not_found") from None
            raise ClaimError(f"claim {ref}: fetching it failed: {err.status} {err.reason}", "api") from None
        except (OSError, TransportError, ValueError) as err:
            # A refused connection ends as urllib3's MaxRetryError (not an OSError); bad JSON is ValueError.
            raise ClaimError(f"claim {ref}: fetching it failed: {err}", "api") from None
        try:
            claim = ResourceClaim.from_dict(data)
        except ApiError as err:
            raise ClaimError(f"claim {ref}: invalid object from the API server: {err}", "api") from None
        check_claim(claim, ref)
        return claim


    def list_in_use(self, driver: str, pool: str) -> list[ResourceClaim]:
        """Claims allocated devices of ``driver`` in ``pool`` and reserved for a consumer:
        what pods on this node may be using right now (recovery of a lost checkpoint)."""
        try:
            response = self._api.list_resource_claim_for_all_namespaces(
                _preload_content=False, _request_timeout=self._timeout)
            items = json.loads(response.data).get("items") or []
        except (ApiException, OSError, TransportError, ValueError) as err:
            raise ClaimError(f"listing ResourceClaims failed: {err}", "api") from None
        out = []
        for item in items:
            try:
                claim = ResourceClaim.from_dict(item)
            except ApiError:
                continue
            status = claim.status
            allocation = status.allocation if status else None
            results = (allocation.devices.results if allocation and allocation.devices else None) or ()
            if status and status.reserved_for and any(r.driver == driver and r.pool == pool for r in results):
                out.append(claim)
        return out


def check_claim(claim: ResourceClaim, ref: ClaimRef) -> None:
    uid = claim.metadata.uid if claim.metadata else None
    if uid != ref.uid:
        raise ClaimError(
            f"claim {ref}: UID is {uid}, the kubelet asked for {ref.uid} (the claim was replaced)",
            "replaced",
        )
    if claim.status is None or claim.status.allocation is None:
        raise ClaimError(f"claim {ref}: not allocated (status.allocation is unset)", "not_allocated")
