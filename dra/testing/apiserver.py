"""A stand-in for the Kubernetes API server, for tests. It is NOT a real API server.

:class:`FakeApiServer` is an in-process HTTP server (``http.server`` in a thread, bound to
127.0.0.1 on a free port) that speaks enough of the Kubernetes REST API that the official
``kubernetes`` Python client works against it unmodified. It exists because the tests of the
slice publisher and the kubelet plugin must exercise their real client code paths (URLs,
query parameters, JSON bodies, status codes, retries) without a cluster.

What it emulates (faithfully enough for those clients):

* resources: ``resource.k8s.io/v1`` resourceslices, deviceclasses (cluster-scoped),
  resourceclaims (with ``/status``), resourceclaimtemplates (namespaced); core ``v1`` nodes
  (with ``/status``) and pods (namespaced, with ``/status``);
* verbs: get, list (``labelSelector``; ``fieldSelector`` limited to the labels the real server
  supports, e.g. ``spec.driver`` and ``spec.nodeName`` for ResourceSlices), create (incl.
  ``generateName``), update (PUT; stale ``resourceVersion`` -> 409 Conflict), patch (JSON
  patch, JSON merge patch; strategic merge patch is treated as a merge patch), delete (with
  ``preconditions`` on uid / resourceVersion -> 409; finalizers honoured) and deletecollection;
* metadata: monotonically increasing ``resourceVersion``, ``uid``, ``creationTimestamp``,
  ``generation`` bumped on spec changes;
* validation against the Kubernetes OpenAPI schema bundled by ``kubernetes-validate`` (default
  Kubernetes 1.37, the project's default; 1.34 to 1.36 selectable): wrong types / missing required fields -> 422 Invalid with
  field causes; unknown fields are dropped with a ``Warning`` header, or rejected with 400 when
  the client asks for ``fieldValidation=Strict`` (both as the real server does); plus a few
  semantic ResourceSlice rules (see :mod:`dra.testing.apiserver_rules`);
* errors as ``Status`` objects with upstream reasons and message shapes (NotFound, Conflict,
  AlreadyExists, Invalid, BadRequest, TooManyRequests with ``Retry-After``, InternalError,
  ServiceUnavailable);
* fault injection (:mod:`dra.testing.apiserver_faults`) and a request log for assertions.

What it does not emulate: watch (requests with ``watch=true`` get 400), authentication and
authorization, admission plugins, server-side apply, pagination (``limit``/``continue`` are
ignored: every list is complete), the full validation of the real server (only the OpenAPI
schema and the rules named above), defaulting, field management, garbage collection of
owned objects, API discovery beyond ``/version``.
"""

from __future__ import annotations

import json
import threading
from http.server import ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

from dra.testing import apiserver_rules
from dra.testing.apiserver_faults import Fault, FaultPlan, RequestInfo, RequestLog, RequestRecord
from dra.testing.apiserver_http import Handler, QuietServer
from dra.testing.apiserver_patch import apply_patch
from dra.testing.apiserver_schema import DEFAULT_VERSION, SUPPORTED_VERSIONS, drop_unknown_fields, schema_problems
from dra.testing.apiserver_store import (
    KINDS,
    RESOURCE_TYPES,
    ObjectStore,
    ResourceType,
    StatusError,
    bad_request,
    invalid,
)

Obj = dict[str, Any]

_BY_PATH: dict[tuple[str, str, str], ResourceType] = {(t.group, t.version, t.plural): t for t in RESOURCE_TYPES}
_DEFAULT_MESSAGES = {
    400: ("BadRequest", "bad request (injected)"),
    401: ("Unauthorized", "Unauthorized"),
    403: ("Forbidden", "forbidden (injected)"),
    404: ("NotFound", "the server could not find the requested resource"),
    409: ("Conflict", "Operation cannot be fulfilled: the object has been modified (injected)"),
    410: ("Expired", "too old resource version (injected)"),
    422: ("Invalid", "invalid (injected)"),
    429: ("TooManyRequests", "Too many requests, please try again later."),
    500: ("InternalError", "Internal error occurred: injected fault"),
    503: ("ServiceUnavailable", "The server is currently unable to handle the request"),
    504: ("Timeout", "Timeout: request did not complete within the allowed duration"),
}


class FakeApiServer:
    """In-process stand-in for kube-apiserver (see the module docstring for its limits).

    Use as a context manager or call :meth:`start` / :meth:`stop`::

        with FakeApiServer() as server:
            api = kubernetes.client.ResourceV1Api(server.api_client())
            server.faults.add(method="PUT", status=500, times=2)
    """

    def __init__(self, *, k8s_version: str = DEFAULT_VERSION, validate: bool = True, seed: int | None = 0) -> None:
        if k8s_version not in SUPPORTED_VERSIONS:
            raise ValueError(f"k8s_version must be one of {SUPPORTED_VERSIONS}, not {k8s_version!r}")
        self.k8s_version = k8s_version
        self.validate = validate
        # Feature gates to treat as off (e.g. {"DRADeviceTaints"}): their fields are dropped on write.
        self.disabled_features: set[str] = set()
        self.store = ObjectStore(seed=seed)
        self.faults = FaultPlan()
        self.log = RequestLog()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._observers: list[Callable[[FakeApiServer, RequestInfo], None]] = []
        self._in_flight = 0
        self._idle = threading.Condition()

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "FakeApiServer":
        if self._httpd is not None:
            return self
        handler = type("_BoundHandler", (Handler,), {"server_ref": self})
        httpd = QuietServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        self._httpd = httpd
        self._stopping.clear()
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-apiserver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()  # wakes handlers sleeping in an injected delay
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> "FakeApiServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("FakeApiServer is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def api_client(self, *, urllib3_retries: Any = False) -> Any:
        """A ``kubernetes.client.ApiClient`` pointed at this server (no authentication).

        urllib3's own transparent retries are off by default so that tests see every failure
        the code under test has to handle; pass ``urllib3_retries=None`` for the library default.
        """
        import kubernetes.client

        configuration = kubernetes.client.Configuration()
        configuration.host = self.url
        configuration.retries = urllib3_retries
        return kubernetes.client.ApiClient(configuration)

    # --- direct state access for tests -------------------------------------------------------
    def put_object(self, obj: Obj) -> Obj:
        """Store ``obj`` (kind decides the resource) bypassing validation; returns the stored copy."""
        return self.store.put(_kind(obj.get("kind", "")), obj)

    def get_object(self, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        rtype = _kind(kind)
        try:
            return self.store.get(rtype, namespace or ("default" if rtype.namespaced else None), name)
        except StatusError:
            return None

    def objects(self, kind: str, namespace: str | None = None) -> list[Obj]:
        return self.store.list(_kind(kind), namespace)

    def delete_object(self, kind: str, name: str, namespace: str | None = None) -> None:
        rtype = _kind(kind)
        self.store.remove(rtype, namespace or ("default" if rtype.namespaced else None), name)

    def requests(self, method: str | None = None, path: str | None = None,
                 writes_only: bool = False) -> list[RequestRecord]:
        return self.log.records(method, path, writes_only)

    def writes(self, path: str | None = None) -> list[RequestRecord]:
        """Requests that change state (POST/PUT/PATCH/DELETE), optionally filtered by path."""
        return self.log.records(None, path, writes_only=True)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no request is being handled (e.g. one the client already gave up on).

        A request whose client timed out may still be performed later by its handler thread;
        tests call this before asserting on the final state. Returns False on timeout.
        """
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    def _enter(self) -> None:
        with self._idle:
            self._in_flight += 1

    def _leave(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def on_request(self, observer: Callable[["FakeApiServer", RequestInfo], None]) -> None:
        """Call ``observer(server, info)`` before every request is handled (and before faults).

        Tests use it to look at every intermediate state a client's sequence of writes creates.
        """
        self._observers.append(observer)

    def inject(self, **kwargs: Any) -> Fault:
        """Shorthand for ``self.faults.add(**kwargs)``."""
        return self.faults.add(**kwargs)

    # --- request handling (called from handler threads) --------------------------------------
    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the server stops; True if it is still running afterwards."""
        return not self._stopping.wait(seconds)

    def handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], Obj]:
        """Serve one request; returns (status code, extra headers, JSON body)."""
        split = urlsplit(raw_path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        try:
            return self._dispatch(method, split.path, query, headers, body)
        except StatusError as error:
            extra = {"Retry-After": str(int(max(1, round(error.retry_after))))} if error.retry_after else {}
            return error.code, extra, error.status_body()

    def _dispatch(self, method: str, path: str, query: dict[str, str], headers: Any,
                  body: bytes) -> tuple[int, dict[str, str], Obj]:
        if path.rstrip("/") == "/version":
            minor = self.k8s_version.split(".")[1]
            return 200, {}, {"major": "1", "minor": minor, "gitVersion": f"v{self.k8s_version}.0-stand-in",
                             "platform": "linux/amd64"}
        rtype, namespace, name, sub = _route(path)
        if query.get("watch") in ("1", "true"):
            raise bad_request("watch is not supported by this stand-in API server")
        store = self.store
        if sub not in (None, "status") or (sub == "status" and not rtype.has_status):
            raise StatusError(404, "NotFound", "the server could not find the requested resource")
        if name is None:
            if method == "GET":
                items = store.list(rtype, namespace, label_selector=query.get("labelSelector", ""),
                                   field_selector=query.get("fieldSelector", ""))
                return 200, {}, self._list_body(rtype, items)
            if method == "POST":
                obj, warnings = self._decode(rtype, body, query, name=None)
                if rtype.namespaced and namespace is None:
                    raise StatusError(404, "NotFound", "the server could not find the requested resource")
                meta_ns = (obj.get("metadata") or {}).get("namespace")
                if rtype.namespaced and meta_ns not in (None, "", namespace):
                    raise bad_request("the namespace of the provided object does not match the namespace sent "
                                      "on the request")
                self._check(rtype, obj, old=None)
                return 201, warnings, store.create(rtype, namespace, obj)
            if method == "DELETE":
                items = store.list(rtype, namespace, label_selector=query.get("labelSelector", ""),
                                   field_selector=query.get("fieldSelector", ""))
                deleted = []
                for item in items:
                    meta = item["metadata"]
                    try:
                        deleted.append(store.delete(rtype, meta.get("namespace"), meta["name"]))
                    except StatusError as error:
                        if error.code != 404:
                            raise
                return 200, {}, self._list_body(rtype, deleted)
            raise StatusError(405, "MethodNotAllowed", f"{method} is not supported on a collection")
        if method == "GET":
            return 200, {}, store.get(rtype, namespace, name)
        if method == "PUT":
            obj, warnings = self._decode(rtype, body, query, name=name)
            old = store.get(rtype, namespace, name)
            if sub is None:
                self._check(rtype, obj, old=old)
            return 200, warnings, store.update(rtype, namespace, name, obj, subresource=sub)
        if method == "PATCH":
            content_type = (headers.get("Content-Type") or "").split(";")[0].strip()
            if content_type == "application/apply-patch+yaml":
                raise StatusError(415, "UnsupportedMediaType", "server-side apply is not supported by this stand-in")
            patch = _json(body)
            old = store.get(rtype, namespace, name)
            try:
                patched = apply_patch(old, patch, content_type)
            except ValueError as error:
                raise bad_request(str(error)) from None
            patched.setdefault("metadata", {})
            patch_meta = patch.get("metadata") if isinstance(patch, dict) else None
            if not (isinstance(patch_meta, dict) and "resourceVersion" in patch_meta):
                patched["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
            obj, warnings = self._decode(rtype, json.dumps(patched).encode(), query, name=name)
            if sub is None:
                self._check(rtype, obj, old=old)
            return 200, warnings, store.update(rtype, namespace, name, obj, subresource=sub)
        if method == "DELETE":
            options = _json(body) if body else {}
            pre = options.get("preconditions") if isinstance(options, dict) else None
            return 200, {}, store.delete(rtype, namespace, name, pre or None)
        raise StatusError(405, "MethodNotAllowed", f"{method} is not supported")

    def _list_body(self, rtype: ResourceType, items: list[Obj]) -> Obj:
        for item in items:  # list items carry no kind/apiVersion on the wire
            item.pop("kind", None)
            item.pop("apiVersion", None)
        return {"kind": f"{rtype.kind}List", "apiVersion": rtype.api_version,
                "metadata": {"resourceVersion": self.store.resource_version}, "items": items}

    def _decode(self, rtype: ResourceType, body: bytes, query: dict[str, str],
                name: str | None) -> tuple[Obj, dict[str, str]]:
        obj = _json(body)
        if not isinstance(obj, dict):
            raise bad_request("the body of the request must be a JSON object")
        if obj.get("kind") not in (None, rtype.kind) or obj.get("apiVersion") not in (None, rtype.api_version):
            raise bad_request(f"the API version in the data ({obj.get('apiVersion')}) does not match the expected "
                              f"API version ({rtype.api_version}) or kind ({rtype.kind})")
        obj["kind"], obj["apiVersion"] = rtype.kind, rtype.api_version
        apiserver_rules.normalize_times(obj)
        warnings: dict[str, str] = {}
        if not self.validate:
            return obj, warnings
        problems = schema_problems(obj, self.k8s_version)
        unknown = [p for p in problems if p.unknown_field]
        if unknown:
            if query.get("fieldValidation") == "Strict":
                listed = ", ".join(f'unknown field "{p.field}"' for p in unknown)
                raise bad_request(f"strict decoding error: {listed}")
            if query.get("fieldValidation") != "Ignore":
                warnings["Warning"] = ", ".join(f'299 - "unknown field \\"{p.field}\\""' for p in unknown)
            drop_unknown_fields(obj, unknown)
        errors = [p for p in problems if not p.unknown_field]
        if not errors:
            decoding = apiserver_rules.canonicalize_quantities(rtype.kind, obj)
            if decoding is not None:
                raise bad_request(decoding)
        if errors:
            meta = obj.get("metadata") or {}
            shown = name or meta.get("name") or meta.get("generateName") or ""
            raise invalid(rtype, shown, [(p.field, p.message) for p in errors])
        return obj, warnings

    def _check(self, rtype: ResourceType, obj: Obj, old: Obj | None) -> None:
        apiserver_rules.drop_disabled_fields(rtype.kind, obj, old, self.disabled_features)
        if not self.validate:
            return
        causes = apiserver_rules.check(rtype.kind, obj, old, self.k8s_version)
        if causes:
            meta = obj.get("metadata") or {}
            raise invalid(rtype, meta.get("name") or meta.get("generateName") or "", causes)

    # Fault-aware front door, used by the handler.
    def serve(self, method: str, raw_path: str, headers: Any,
              body: bytes) -> tuple[str, int, dict[str, str], Obj, Fault | None]:
        """Returns ("ok"|"reset", code, headers, body, fault) after applying any injected fault."""
        split = urlsplit(raw_path)
        info = RequestInfo(method, split.path, dict(parse_qsl(split.query, keep_blank_values=True)))
        for observer in list(self._observers):
            observer(self, info)
        fault = self.faults.pick(info)
        outcome, code, extra, payload = "ok", 0, {}, {}
        if fault is not None:
            if fault.hook is not None:
                fault.hook(self, info)
            if fault.delay and not self._sleep(fault.delay):
                return "reset", 0, {}, {}, fault
            if fault.drop:
                return "reset", 0, {}, {}, fault
        if fault is None or fault.apply or (fault.status is None and not fault.reset):
            code, extra, payload = self.handle(method, raw_path, headers, body)
        if fault is not None and fault.reset:
            outcome = "reset"
        elif fault is not None and fault.status is not None:
            reason, default_message = _DEFAULT_MESSAGES.get(fault.status, ("InternalError", "injected fault"))
            error = StatusError(fault.status, reason, fault.message or default_message, retry_after=fault.retry_after)
            code, payload = error.code, error.status_body()
            extra = {"Retry-After": str(int(max(1, round(fault.retry_after))))} if fault.retry_after else {}
        return outcome, code, extra, payload, fault


def _kind(kind: str) -> ResourceType:
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(f"FakeApiServer does not serve kind {kind!r}; it serves {sorted(KINDS)}") from None


def _json(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError as error:
        raise bad_request(f"the body of the request is not valid JSON: {error}") from None


def _route(path: str) -> tuple[ResourceType, str | None, str | None, str | None]:
    """Map a URL path to (resource type, namespace, name, subresource)."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise StatusError(404, "NotFound", "the server could not find the requested resource")
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        raise StatusError(404, "NotFound", "the server could not find the requested resource")
    rtype = _BY_PATH.get((group, version, rest[0]))
    if rtype is None or (namespace is not None and not rtype.namespaced):
        raise StatusError(404, "NotFound", "the server could not find the requested resource")
    name = rest[1] if len(rest) >= 2 else None
    sub = rest[2] if len(rest) == 3 else None
    return rtype, namespace, name, sub
