"""Failed requests of the stand-in API server, as Kubernetes ``Status`` objects.

Reasons and message shapes follow kube-apiserver (``resourceslices.resource.k8s.io "x" not
found``, ``Operation cannot be fulfilled on ...``, ``ResourceSlice "x" is invalid: [...]`` with
one ``cause`` per field), so that clients' error handling is exercised as in a cluster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    from dra.testing.apiserver_store import ResourceType

Obj = dict[str, Any]


class StatusError(Exception):
    """A failed request, rendered by the server as a ``Status`` object."""

    def __init__(self, code: int, reason: str, message: str, *, rtype: ResourceType | None = None,
                 name: str | None = None, causes: Iterable[dict[str, str]] = (),
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.rtype, self.name, self.causes = rtype, name, list(causes)
        self.retry_after = retry_after

    def status_body(self) -> Obj:
        details: Obj = {}
        if self.name is not None:
            details["name"] = self.name
        if self.rtype is not None:
            details["group"] = self.rtype.group
            details["kind"] = self.rtype.plural
        if self.causes:
            details["causes"] = self.causes
        if self.retry_after is not None:
            details["retryAfterSeconds"] = int(max(1, round(self.retry_after)))
        body: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                     "message": self.message, "reason": self.reason, "code": self.code}
        if details:
            body["details"] = details
        return body


def not_found(rtype: ResourceType, name: str) -> StatusError:
    return StatusError(404, "NotFound", f'{rtype.group_resource} "{name}" not found', rtype=rtype, name=name)


def conflict(rtype: ResourceType, name: str, why: str) -> StatusError:
    return StatusError(409, "Conflict", f'Operation cannot be fulfilled on {rtype.group_resource} "{name}": {why}',
                       rtype=rtype, name=name)


def invalid(rtype: ResourceType, name: str, causes: list[tuple[str, str]]) -> StatusError:
    """422 Invalid in the shape kube-apiserver uses: message lists every ``field: detail``."""
    detail = ", ".join(f"{f}: {m}" if f else m for f, m in causes)
    message = f'{rtype.kind} "{name}" is invalid: [{detail}]' if len(causes) > 1 else \
        f'{rtype.kind} "{name}" is invalid: {detail}'
    return StatusError(422, "Invalid", message, rtype=rtype, name=name,
                       causes=[{"reason": _cause_reason(m), "message": m, "field": f} for f, m in causes])


def _cause_reason(message: str) -> str:
    for prefix, reason in (("Required value", "FieldValueRequired"), ("Unsupported value", "FieldValueNotSupported"),
                           ("Duplicate value", "FieldValueDuplicate"), ("Too many", "FieldValueTooMany"),
                           ("Forbidden", "FieldValueForbidden")):
        if message.startswith(prefix):
            return reason
    return "FieldValueInvalid"


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)
