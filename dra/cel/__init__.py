"""The Kubernetes DRA CEL environment: compile device selectors, evaluate them fast.

Public surface::

    from dra.cel import compile_selector, CelDevice, SelectorMemo, Semver
    sel = compile_selector('device.attributes["gpu.nvidia.com"].type == "gpu"')
    sel.matches(CelDevice.from_device("gpu.nvidia.com", device))

Expressions are parsed with cel-python's LALR grammar (extended with optional syntax), checked
statically the way the API server checks them, and translated into Python closures; see
``dra.cel.compiler``. Errors: :class:`CelCompileError` (``compilation failed: ...``) and
:class:`CelRuntimeError`, both :class:`dra.errors.UserError`.
"""

from dra.cel.cost import SELECTOR_MAX_COST
from dra.cel.device import CelDevice
from dra.cel.errors import CelCompileError, CelRuntimeError
from dra.cel.selector import Selector, SelectorMemo, compile_selector, evaluate_expression
from dra.cel.semver import Semver, SemverError

__all__ = [
    "CelCompileError", "CelDevice", "CelRuntimeError", "SELECTOR_MAX_COST", "Selector", "SelectorMemo",
    "Semver", "SemverError", "compile_selector", "evaluate_expression",
]
