"""Decoding CEL literal tokens (numbers, strings, bytes) into values.

The grammar only delimits the tokens; the CEL spec's rules are applied here: int64/uint64
ranges, escape sequences (``\\n``, ``\\x41``, ``\\u00e9``, ``\\U0001F600``, octal ``\\101``),
raw strings (``r"..."``) and triple-quoted strings. Problems are reported by raising
``ValueError`` with a cel-go-like reason; the compiler adds the position.
"""

from __future__ import annotations

import re

from dra.cel.values import INT64_MAX, INT64_MIN, UINT64_MAX, UInt

_SIMPLE_ESCAPES = {
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
    "\\": "\\", "'": "'", '"': '"', "`": "`", "?": "?",
}
_ESCAPE = re.compile(
    r"\\(?:([abfnrtv\\'\"`?])|x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|([0-3][0-7]{2})|(.|$))",
    re.S,
)


def parse_int(text: str) -> int:
    value = _parse_integer(text)
    if value < INT64_MIN or value > INT64_MAX:
        raise ValueError("invalid int literal")
    return value


def parse_uint(text: str) -> UInt:
    value = _parse_integer(text[:-1])
    if text.startswith("-") or value < 0 or value > UINT64_MAX:
        raise ValueError("invalid uint literal")
    return UInt(value)


def _parse_integer(text: str) -> int:
    negative = text.startswith("-")
    body = text[1:] if negative else text
    value = int(body[2:], 16) if body[:2].lower() == "0x" else int(body, 10)
    return -value if negative else value


def parse_double(text: str) -> float:
    return float(text)


def parse_string(text: str) -> str:
    raw, body = _strip_quotes(text)
    if raw:
        return body
    return _ESCAPE.sub(_string_escape, body)


def parse_bytes(text: str) -> bytes:
    raw, body = _strip_quotes(text[1:])
    if raw:
        return body.encode("utf-8")
    out = bytearray()
    pos = 0
    for m in _ESCAPE.finditer(body):
        out += body[pos : m.start()].encode("utf-8")
        simple, hex2, u4, u8, octal, bad = m.groups()
        if hex2 is not None:
            out.append(int(hex2, 16))
        elif octal is not None:
            out.append(int(octal, 8))
        else:
            out += _string_escape(m).encode("utf-8")
        pos = m.end()
    out += body[pos:].encode("utf-8")
    return bytes(out)


def _strip_quotes(text: str) -> tuple[bool, str]:
    raw = text[:1] in ("r", "R")
    if raw:
        text = text[1:]
    quote = text[:3] if text[:3] in ('"""', "'''") else text[:1]
    return raw, text[len(quote) : len(text) - len(quote)]


def _string_escape(m: re.Match) -> str:
    simple, hex2, u4, u8, octal, bad = m.groups()
    if simple is not None:
        return _SIMPLE_ESCAPES[simple]
    if hex2 is not None:
        return chr(int(hex2, 16))
    if octal is not None:
        return chr(int(octal, 8))
    code = int(u4 or u8 or "", 16) if (u4 or u8) else None
    if code is not None:
        if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
            raise ValueError("invalid unicode code point")
        return chr(code)
    raise ValueError(f"invalid escape sequence '\\{bad}'")
