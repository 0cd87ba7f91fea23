"""Differential test against Google's cel-cpp (``cel-expr-python``), when it is installed.

cel-cpp is a conformance-tested CEL implementation; comparing with it on generated
expressions catches semantic drift in arithmetic, conversions, strings, macros and optionals.
It is an optional test dependency (``pip install cel-expr-python``); without it this file is
skipped. Known, intended differences are where Kubernetes' cel-go environment differs from
cel-cpp's defaults: cross-type numeric ordering and the homogeneous-literal check are enabled
in Kubernetes, numbers are parsed with Go's strconv (no surrounding spaces, no '+' on uints),
and ``bool()`` accepts Go's ParseBool spellings; the generators below avoid those.
"""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

cel = pytest.importorskip("cel_expr_python.cel", reason="cel-expr-python (cel-cpp oracle) not installed")

from dra.cel import CelCompileError, CelRuntimeError  # noqa: E402
from dra.cel.selector import evaluate_expression  # noqa: E402
from dra.cel.values import UInt  # noqa: E402

ERROR = "error"


def _oracle_env() -> Any:
    from cel_expr_python.ext import ext_bindings, ext_optional, ext_strings

    return cel.NewEnv(extensions=[ext_strings.ExtStrings(), ext_bindings.ExtBindings(), ext_optional.ExtOptional()])


def _norm(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, UInt)):
        return int(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, list):
        return [_norm(x) for x in value]
    if isinstance(value, dict):
        return sorted((repr(_norm(k)), _norm(x)) for k, x in value.items())
    return repr(value)


def _oracle(env: Any, expr: str) -> Any:
    try:
        result = env.compile(expr).eval()
    except Exception:
        return ERROR
    if result.type().name() in ("ERROR", "*error*"):
        return ERROR
    value = result.plain_value()
    if isinstance(value, Exception):
        return ERROR
    return _norm(value)


def _ours(expr: str) -> Any:
    try:
        return _norm(evaluate_expression(expr))
    except (CelCompileError, CelRuntimeError):
        return ERROR


def _strings(rng: random.Random) -> list[str]:
    alphabet = ["a", "b", "c", " ", "é", "-", "A", "Z", "ß", "日"]

    def s() -> str:
        return '"' + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) + '"'

    def i() -> str:
        return str(rng.randint(-2, 8))

    forms = [
        lambda: f"{s()}.charAt({i()})", lambda: f"{s()}.indexOf({s()}, {i()})", lambda: f"{s()}.lastIndexOf({s()})",
        lambda: f"{s()}.lastIndexOf({s()}, {i()})", lambda: f"{s()}.lowerAscii()", lambda: f"{s()}.upperAscii()",
        lambda: f"{s()}.replace({s()}, {s()}, {i()})", lambda: f"{s()}.split({s()}, {i()})", lambda: f"{s()}.substring({i()}, {i()})",
        lambda: f"{s()}.trim()", lambda: f"[{s()}, {s()}].join({s()})", lambda: f"strings.quote({s()})",
        lambda: f"size({s()})", lambda: f"{s()} < {s()}", lambda: f"{s()}.contains({s()})", lambda: f"{s()}.matches({s()})",
    ]
    return [rng.choice(forms)() for _ in range(300)]


def _numbers(rng: random.Random) -> list[str]:
    ints = ["0", "1", "-1", "7", "-7", "9223372036854775807", "-9223372036854775808", "4611686018427387904"]
    uints = ["0u", "1u", "7u", "18446744073709551615u", "9223372036854775808u"]
    doubles = ["0.0", "1.5", "-2.5", "1e308", "0.1", "1e-7", "123456.0", "1234567.0", "9.2e18", "1.8e19"]
    strs = ['"12"', '"-3"', '"1.5"', '"abc"', '"1e3"', '"9223372036854775808"', '"0"']
    forms = [
        lambda: f"{rng.choice(ints)} {rng.choice('+-*/%')} {rng.choice(ints)}",
        lambda: f"{rng.choice(uints)} {rng.choice('+-*/%')} {rng.choice(uints)}",
        lambda: f"{rng.choice(doubles)} {rng.choice('+-*/')} {rng.choice(doubles)}",
        lambda: f"int({rng.choice(doubles + uints + strs)})", lambda: f"uint({rng.choice(ints + doubles + strs)})",
        lambda: f"double({rng.choice(ints + uints + strs)})", lambda: f"string({rng.choice(doubles + ints + uints)})",
        lambda: f"dyn({rng.choice(ints)}) == dyn({rng.choice(doubles + uints)})",
        lambda: f"[{rng.choice(ints)}, {rng.choice(ints)}].exists(x, x > {rng.choice(ints)})",
    ]
    return [rng.choice(forms)() for _ in range(300)]


def _known_difference(expr: str) -> bool:
    # Go's strings.Split("", "") is an empty list (cel-go); cel-cpp returns [""].
    return expr.startswith('"".split("",')


@pytest.mark.parametrize("family", [_strings, _numbers], ids=["strings", "numbers"])
def test_agrees_with_cel_cpp(family: Any) -> None:
    env = _oracle_env()
    mismatches = []
    for expr in sorted(e for e in set(family(random.Random(2024))) if not _known_difference(e)):
        expected, actual = _oracle(env, expr), _ours(expr)
        if expected != actual:
            mismatches.append(f"{expr}: cel-cpp {expected!r}, ours {actual!r}")
    assert not mismatches, "\n".join(mismatches[:20])
