"""Errors of the API layer: bad object structure (ApiError) and failed validation rules."""

from __future__ import annotations

from dataclasses import dataclass

from dra.errors import UserError


class ApiError(UserError):
    """An object does not have the structure of its Kubernetes type (unknown field, bad type).

    ``loc`` is the location of the (first) problem inside the object as a tuple of keys and
    list indexes, so that a loader can map it back to a line of the source file.
    """

    def __init__(self, message: str, loc: tuple[object, ...] = ()) -> None:
        super().__init__(message)
        self.loc = tuple(loc)


@dataclass(frozen=True)
class FieldError:
    """One validation finding, like upstream's ``field.Error``: where and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ValidationError(UserError):
    """An object breaks one or more API validation rules; ``errors`` holds all of them."""

    def __init__(self, errors: list[FieldError], prefix: str = "") -> None:
        self.errors = list(errors)
        text = "; ".join(str(e) for e in self.errors) or "invalid object"
        super().__init__(f"{prefix}: {text}" if prefix else text)
