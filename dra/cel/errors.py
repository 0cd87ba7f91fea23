"""Errors of the CEL layer.

Two kinds reach callers, both one-line :class:`~dra.errors.UserError` subclasses:

* :class:`CelCompileError` -- the expression is rejected before any device is seen
  (syntax, undeclared names, type errors), message ``compilation failed: ERROR: <input>:L:C: ...``
  as cel-go/Kubernetes print it.
* :class:`CelRuntimeError` -- evaluating against a device failed (``no such key: x``, overflow,
  non-bool result, ``actual cost limit exceeded``). Kubernetes treats this as an allocation
  error for the claim, not as "device does not match".

Inside the evaluator two private exception types model CEL's error *values*:
:class:`EvalError` is absorbed by ``&&``/``||`` and the ``all``/``exists`` macros exactly like
cel-go's error values; :class:`CostLimitExceeded` aborts the whole evaluation and is never
absorbed (cel-go stops the interpreter when the budget is spent).
"""

from __future__ import annotations

from dra.errors import UserError


class CelCompileError(UserError):
    """A CEL expression failed to compile (message starts with ``compilation failed: ``)."""


class CelRuntimeError(UserError):
    """Evaluating a compiled CEL expression failed for a particular device."""


class EvalError(Exception):
    """A CEL evaluation error value (absorbable by the logical operators)."""


class CostLimitExceeded(Exception):
    """The runtime cost budget was spent; evaluation stops (never absorbed)."""


class EvalAbort(Exception):
    """What cel-go reports as ``internal error: ...``: a function binding that panics (a list
    function of ext.Lists given a non-list through dyn). The interpreter recovers the panic for
    the whole evaluation, so like the cost limit it is never absorbed by ``&&``/``||``."""


def compile_error(line: int, column: int, message: str) -> CelCompileError:
    return CelCompileError(f"compilation failed: ERROR: <input>:{line}:{column}: {message}")


def no_such_overload(name: str, *args: object) -> EvalError:
    from dra.cel.values import type_name

    kinds = ", ".join(type_name(a) for a in args)
    return EvalError(f"no such overload: {name}({kinds})")
