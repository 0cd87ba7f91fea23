"""One REST call with the official client's auth and TLS, JSON in and out, no model (de)serialisation.

The real-cluster tests compare what the server stores with what we sent field by field, so they
must see the server's JSON as is: the client's models drop fields they do not know (a client
older than the server) and rename the rest.
"""

from __future__ import annotations

import json
from typing import Any, Iterable


def raw(api_client: Any, method: str, path: str, body: Any = None, query: Iterable[tuple[str, str]] = (),
        timeout: float = 30.0) -> dict:
    """``method path`` with ``body`` (a dict); the decoded JSON answer, or ``ApiException`` for 4xx/5xx."""
    from kubernetes.client.rest import ApiException

    m, url, headers, data, post = api_client.param_serialize(
        method=method, resource_path=path, query_params=list(query),
        header_params={"Accept": "application/json", "Content-Type": "application/json"},
        body=body, auth_settings=["BearerToken"])
    resp = api_client.call_api(m, url, header_params=headers, body=data, post_params=post, _request_timeout=timeout)
    content = resp.read()
    if resp.status >= 400:
        raise ApiException(http_resp=resp)
    return json.loads(content) if content else {}


def raw_list(api_client: Any, path: str, query: Iterable[tuple[str, str]] = ()) -> list[dict]:
    """The items of a list, each with its ``apiVersion`` and ``kind`` filled in (as ``kubectl get -o json`` does)."""
    data = raw(api_client, "GET", path, query=query)
    kind = data["kind"].removesuffix("List")
    for item in data["items"]:
        item.setdefault("apiVersion", data["apiVersion"])
        item.setdefault("kind", kind)
    return data["items"]


def wait_default_service_account(api_client: Any, namespace: str, timeout: float = 60.0) -> None:
    """Wait until the controller-manager has made ``namespace``'s ``default`` ServiceAccount
    (the API server refuses Pods in the namespace until it exists)."""
    import time

    from kubernetes.client.rest import ApiException

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            raw(api_client, "GET", f"/api/v1/namespaces/{namespace}/serviceaccounts/default")
            return
        except ApiException:
            time.sleep(0.3)
    raise AssertionError(f"no default ServiceAccount in {namespace} after {timeout:.0f}s")
