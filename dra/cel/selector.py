"""Compiled DRA selectors, their cache, and per-device memoization.

``compile_selector(text, env_type=..., consumable_capacity=...)`` is what the allocator calls
for every ``DeviceClass``/request selector; like kube-scheduler's ``cel.Cache`` it returns the
same compiled object for the same arguments. ``Selector.matches(device)`` evaluates against a
:class:`~dra.cel.device.CelDevice` and raises :class:`~dra.cel.errors.CelRuntimeError` for any
evaluation error, which Kubernetes turns into an allocation error for the claim.

Environments: ``"stored"`` is what the scheduler compiles (all fields, feature gates not
filtered); ``"new"`` is API validation of new objects, where ``device.allowMultipleAllocations``
exists only with the DRAConsumableCapacity gate (``consumable_capacity=True``).
``version=`` (a :class:`dra.versions.KubernetesVersion` or a minor) selects that version's
declarations and gates (list-typed attributes and ``includes()`` from 1.36, the 1.37 skew rule
and error hints); see :mod:`dra.cel.env`. Without it the 1.35 rules apply
(``list_type_attributes=True`` gives the 1.36 ones).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Hashable

from dra.cel.compiler import Compiler
from dra.cel.cost import METER_KEY, SELECTOR_MAX_COST, Meter
from dra.cel.device import CelDevice
from dra.cel.env import NO_SUCH_KEY_HINT, CelEnvironment, environment
from dra.cel.errors import CelCompileError, CelRuntimeError, CostLimitExceeded, EvalAbort, EvalError
from dra.cel.values import type_name

ENV_TYPES = {"stored": "stored", "new": "new", "StoredExpressions": "stored", "NewExpressions": "new"}


class Selector:
    """One compiled CEL selector expression."""

    __slots__ = ("expression", "env_type", "consumable_capacity", "_fn", "_metered", "_start_cost",
                 "cost_limit", "estimated_max_cost", "referenced_paths", "signature", "environment",
                 "_hint", "_reads_lists", "__weakref__")

    def __init__(self, expression: str, env_type: str = "stored", consumable_capacity: bool = True,
                 cost_limit: int = SELECTOR_MAX_COST, *, require_bool: bool = True,
                 list_type_attributes: bool = False, version: Any = None, derived: bool = False) -> None:
        if env_type not in ENV_TYPES:
            raise CelCompileError(f"compilation failed: unknown environment type {env_type!r} (use 'stored' or 'new')")
        env = ENV_TYPES[env_type]
        self.environment = environment(env, consumable_capacity=consumable_capacity,
                                       list_type_attributes=list_type_attributes, version=version)
        compiler = Compiler(expression, env=self.environment)
        node = compiler.compile(require_bool and not derived, derived=derived)
        self._hint = self.environment.error_hint
        self._reads_lists = self.environment.reads_lists
        self.expression = expression
        self.env_type = env
        self.consumable_capacity = consumable_capacity
        self._fn = node.fn
        self._metered = compiler.metered
        self._start_cost = node.cost
        self.cost_limit = cost_limit
        # cel-go's static worst-case estimate (what API validation compares with the limit).
        self.estimated_max_cost: int | None = node.est
        # What the expression reads of the device, and a function of exactly that: devices
        # with equal signatures get equal results (or errors).
        self.referenced_paths: list[tuple[str, ...]] = compiler.referenced_paths()
        self.signature: Callable[[CelDevice], Hashable] = make_signature(self.referenced_paths)

    def matches(self, device: CelDevice) -> bool:
        """Whether the device is selected; CelRuntimeError for evaluation errors or a non-bool result."""
        if device.error is None and not self._metered and (device.list_error is None or self._reads_lists):
            # The common case, kept to one frame above the compiled closure; the device is the env.
            try:
                result = self._fn(device)
            except EvalError as ex:
                raise CelRuntimeError(self._message(ex)) from None
            except EvalAbort as ex:
                raise CelRuntimeError(f"internal error: {ex}") from None
            except RecursionError:
                raise CelRuntimeError("expression nesting too deep to evaluate") from None
        else:
            result = self.evaluate(device)
        if result is True or result is False:
            return result
        raise CelRuntimeError(f"CEL result of type {type_name(result)} could not be converted to bool")

    def evaluate(self, device: CelDevice) -> Any:
        """The raw CEL result (any type); errors as CelRuntimeError."""
        if device.error is not None:
            raise CelRuntimeError(device.error)
        if device.list_error is not None and not self._reads_lists:
            raise CelRuntimeError(device.list_error)
        env: dict[str, Any] = device
        if self._metered:
            # loops and bindings need a private, mutable env for their variables and the meter
            env = {"device": device, METER_KEY: Meter(self.cost_limit, self._start_cost)}
        try:
            return self._fn(env)
        except EvalError as ex:
            raise CelRuntimeError(self._message(ex)) from None
        except CostLimitExceeded:
            raise CelRuntimeError("operation cancelled: actual cost limit exceeded") from None
        except EvalAbort as ex:
            raise CelRuntimeError(f"internal error: {ex}") from None
        except RecursionError:
            raise CelRuntimeError("expression nesting too deep to evaluate") from None

    def _message(self, ex: Exception) -> str:
        text = str(ex)
        if self._hint and "no such key:" in text:
            # 1.37 cel.EnhanceRuntimeError, which the allocator applies to every runtime error
            text += NO_SUCH_KEY_HINT
        return text

    def __reduce__(self) -> tuple:
        # Closures do not pickle; a selector travels as its source and is recompiled (cached).
        return (_unpickle_selector, (self.expression, self.env_type, self.consumable_capacity, self.cost_limit,
                                     self.environment))

    def __repr__(self) -> str:
        return f"Selector({self.expression!r}, env_type={self.env_type!r})"


def _unpickle_selector(expression: str, env_type: str, consumable_capacity: bool, cost_limit: int,
                       env: CelEnvironment | None = None) -> Selector:
    env = env or environment(env_type, consumable_capacity=consumable_capacity)
    if cost_limit == SELECTOR_MAX_COST:
        return _compile_env(expression, env_type, env)
    return _selector_for(expression, env_type, env, cost_limit)


def _selector_for(expression: str, env_type: str, env: CelEnvironment, cost_limit: int = SELECTOR_MAX_COST) -> Selector:
    return Selector(expression, env_type, env.consumable_capacity, cost_limit, version=_EnvVersion(env),
                    list_type_attributes=env.list_type_attributes)


class _EnvVersion:
    """A KubernetesVersion look-alike that reproduces an environment exactly (for unpickling)."""

    def __init__(self, env: CelEnvironment) -> None:
        self.minor = env.minor
        self._gates = {"DRAConsumableCapacity": env.consumable_capacity, "DRAListTypeAttributes": env.list_type_attributes}

    def enabled(self, gate: str) -> bool:
        return self._gates.get(gate, False)


_ABSENT = object()


def _freeze(value: Any) -> Hashable:
    # Tag scalars with their type: True == 1 in Python, not in CEL.
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return (value.__class__, value)


def make_signature(paths: list[tuple[str, ...]]) -> Callable[[CelDevice], Hashable]:
    """A function giving, for a device, the values at ``paths`` (plus its conversion error)."""
    frozen_paths = tuple(paths)

    def signature(device: CelDevice) -> Hashable:
        values: list[Any] = [device.error, device.list_error]
        for keys in frozen_paths:
            obj: Any = device
            try:
                for key in keys:
                    obj = obj[key]
            except (KeyError, TypeError):
                values.append(_ABSENT)
            else:
                values.append(_freeze(obj))
        return tuple(values)

    return signature


def evaluate_expression(expression: str, device: CelDevice | None = None, *, env_type: str = "stored",
                        version: Any = None, list_type_attributes: bool = False) -> Any:
    """Compile and evaluate any CEL expression (no bool requirement); for tools and tests."""
    selector = Selector(expression, env_type, True, require_bool=False, version=version,
                        list_type_attributes=list_type_attributes)
    return selector.evaluate(device if device is not None else CelDevice.from_parts(""))


@functools.lru_cache(maxsize=4096)
def _compile_env(expression: str, env_type: str, env: CelEnvironment) -> Selector:
    return _selector_for(expression, env_type, env)


def compile_selector(expression: str, *, env_type: str = "stored", consumable_capacity: bool = True,
                     list_type_attributes: bool = False, version: Any = None) -> Selector:
    """Compile (or fetch from the cache) a selector; CelCompileError if Kubernetes would reject it.

    ``version``: a ``dra.versions.KubernetesVersion`` (or minor string) whose gates choose the
    environment (``consumable_capacity``/``list_type_attributes`` are then ignored)."""
    env_type = ENV_TYPES.get(env_type, env_type)
    if env_type not in ("stored", "new"):
        raise CelCompileError(f"compilation failed: unknown environment type {env_type!r} (use 'stored' or 'new')")
    env = environment(env_type, consumable_capacity=consumable_capacity,
                      list_type_attributes=list_type_attributes, version=version)
    return _compile_env(expression, env_type, env)


class SelectorMemo:
    """Remembers ``selector.matches(device)`` per (selector, device key).

    Callers pass a key that identifies the device's content (for example
    ``(slice name, generation, device name)``); the memo never inspects the device itself, so
    a key must change when the device does (or call :meth:`clear`). Errors are remembered too
    and raised again, so a bad device costs one evaluation. Results are stored per selector
    (one dict each) so that a hit is two dict lookups and no allocation.
    """

    __slots__ = ("_results",)

    def __init__(self) -> None:
        self._results: dict[Selector, dict[Hashable, Any]] = {}

    def matches(self, selector: Selector, device_key: Hashable, device: CelDevice) -> bool:
        try:
            result = self._results[selector][device_key]
        except KeyError:
            result = self._evaluate(selector, device_key, device)
        if type(result) is bool:
            return result
        raise result

    def matcher(self, selector: Selector) -> Callable[[Hashable, CelDevice], bool]:
        """A ``match(device_key, device) -> bool`` function for one selector.

        For loops over many devices with the same selector (the allocator's inner loop): the
        per-selector table is bound once, so a remembered answer costs one dict lookup.
        """
        results = self._results.setdefault(selector, {})
        evaluate = self._evaluate

        def match(device_key: Hashable, device: CelDevice) -> bool:
            try:
                result = results[device_key]
            except KeyError:
                result = evaluate(selector, device_key, device)
            if result is True or result is False:
                return result
            raise result

        return match

    def grouped_matcher(self, selector: Selector) -> Callable[[CelDevice], bool]:
        """A ``match(device) -> bool`` that evaluates once per distinct *signature*.

        Devices that agree on everything the selector reads (``selector.referenced_paths``:
        for ``device.attributes["gpu.nvidia.com"].productName == "X"`` just the product name)
        share one evaluation, so a fleet of identical GPUs costs one evaluation per selector.
        Worth it for selectors that are dear to evaluate (loops, regular expressions); a
        plain comparison is about as cheap as computing its signature.
        """
        results = self._results.setdefault(selector, {})
        signature, evaluate = selector.signature, self._evaluate

        def match(device: CelDevice) -> bool:
            key = ("@signature", signature(device))
            try:
                result = results[key]
            except KeyError:
                result = evaluate(selector, key, device)
            if result is True or result is False:
                return result
            raise result

        return match

    def _evaluate(self, selector: Selector, device_key: Hashable, device: CelDevice) -> Any:
        try:
            result: Any = selector.matches(device)
        except CelRuntimeError as ex:
            result = ex
        self._results.setdefault(selector, {})[device_key] = result
        return result

    def forget_device(self, device_key: Hashable) -> None:
        """Drop every result for one device (its content changed)."""
        for results in self._results.values():
            results.pop(device_key, None)

    def clear(self) -> None:
        self._results.clear()

    def __len__(self) -> int:
        return sum(len(r) for r in self._results.values())
