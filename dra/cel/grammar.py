"""Parsing CEL text into a lark tree.

We reuse cel-python's LALR grammar (``celpy/cel.lark``, read from the installed package so we
never carry a copy) and extend it with the parts of CEL syntax that Kubernetes accepts and that
grammar lacks: cel-go's optional-types syntax (enabled in the Kubernetes base environment
since 1.28) -- optional field selection ``a.?b``, optional indexing ``a[?k]``, optional list
elements ``[?x]`` and map entries ``{?k: v}`` -- and trailing commas in list and map literals.
The extension rewrites the three grammar rules involved (``member``, ``list_lit``,
``mapinits``); if a future cel-python changes one of them, :func:`_extended_grammar` fails
loudly instead of silently parsing a different language.

Syntax errors become :class:`~dra.cel.errors.CelCompileError` with a cel-go-style message
(``ERROR: <input>:LINE:COL: Syntax error: ...``) so callers can match upstream substrings.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import lark
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from dra.cel.errors import CelCompileError, compile_error

# (rule as cel-python writes it, our replacement)
_EXTENSIONS = [
    # optional field selection and indexing: a.?b, a[?k]
    (
        "member         : member_dot | member_dot_arg | member_index | member_object | primary",
        """
member         : member_dot | member_dot_arg | member_index | member_object | member_dot_opt | member_index_opt | primary
member_dot_opt : member "." "?" IDENT
member_index_opt : member "[" "?" expr "]"
""",
    ),
    # list literals: optional elements [?x] and a trailing comma
    (
        'list_lit       : "[" [exprlist] "]"',
        """
list_lit       : "[" [listinits] "]"
listinits      : listelem ("," listelem)* [","]
listelem       : expr | optelem
optelem        : "?" expr
""",
    ),
    # map literals: optional entries {?k: v} and a trailing comma
    (
        'mapinits       : expr ":" expr ("," expr ":" expr)*',
        """
mapinits       : mapentry ("," mapentry)* [","]
mapentry       : expr ":" expr
               | "?" expr ":" expr -> optmapentry
""",
    ),
]

_lock = threading.Lock()
_parser: Lark | None = None

# Readable names for the grammar's terminals, as cel-go's ANTLR messages spell them.
_TERMINAL_NAMES = {
    "LSQB": "'['", "RSQB": "']'", "LBRACE": "'{'", "RBRACE": "'}'", "LPAR": "'('", "RPAR": "')'",
    "DOT": "'.'", "MINUS": "'-'", "BANG": "'!'", "COMMA": "','", "COLON": "':'", "QMARK": "'?'",
    "PLUS": "'+'", "STAR": "'*'", "SLASH": "'/'", "PERCENT": "'%'", "LESSTHAN": "'<'",
    "MORETHAN": "'>'", "__ANON_0": "'||'", "__ANON_1": "'&&'", "BOOL_LIT": "BOOL",
    "NULL_LIT": "'null'", "INT_LIT": "NUM_INT", "UINT_LIT": "NUM_UINT", "FLOAT_LIT": "NUM_FLOAT",
    "STRING_LIT": "STRING", "MLSTRING_LIT": "STRING", "BYTES_LIT": "BYTES", "IDENT": "IDENTIFIER",
    "$END": "<EOF>",
}


def _extended_grammar() -> str:
    import celpy

    text = (Path(celpy.__file__).parent / "cel.lark").read_text()
    for original, replacement in _EXTENSIONS:
        if original not in text:
            raise RuntimeError(
                f"installed cel-python grammar (celpy/cel.lark) lacks the rule {original!r}; "
                "dra.cel.grammar needs updating for this cel-python version"
            )
        text = text.replace(original, replacement)
    return text


def _keywords_as_literals(token: Token) -> Token:
    # The grammar's IDENT regex also matches true/false; turn them into literals here,
    # as cel-python's own parser does.
    if token.value in ("true", "false"):
        return Token("BOOL_LIT", token.value)
    return token


def get_parser() -> Lark:
    """The shared LALR parser (built once, about 0.1 s)."""
    global _parser
    if _parser is None:
        with _lock:
            if _parser is None:
                _parser = Lark(
                    _extended_grammar(),
                    parser="lalr",
                    start="expr",
                    g_regex_flags=re.M,
                    lexer_callbacks={"IDENT": _keywords_as_literals},
                    propagate_positions=True,
                    maybe_placeholders=False,
                    priority="invert",
                )
    return _parser


def parse(text: str) -> Tree:
    """Parse CEL text; raise CelCompileError('compilation failed: ERROR: <input>:L:C: Syntax error: ...')."""
    try:
        return get_parser().parse(text)
    except UnexpectedInput as ex:
        line, column, detail = _describe(text, ex)
        raise compile_error(line, column, f"Syntax error: {detail}") from None
    except lark.exceptions.LarkError as ex:  # pragma: no cover - lexer/grammar internals
        raise compile_error(1, 1, f"Syntax error: {str(ex).splitlines()[0]}") from None


def _end_position(text: str) -> tuple[int, int]:
    lines = text.split("\n")
    return len(lines), len(lines[-1]) + 1


def _describe(text: str, ex: UnexpectedInput) -> tuple[int, int, str]:
    if isinstance(ex, UnexpectedToken):
        token = ex.token
        expected = _expected(ex.expected)
        if token.type == "$END":
            line, column = _end_position(text)
            return line, column, f"mismatched input '<EOF>' expecting {expected}"
        line, column = token.line or 1, token.column or 1
        return line, column, f"mismatched input '{token.value}' expecting {expected}"
    if isinstance(ex, UnexpectedCharacters):
        char = text[ex.pos_in_stream] if 0 <= ex.pos_in_stream < len(text) else ""
        return ex.line, ex.column, f"token recognition error at: '{char}'"
    if isinstance(ex, UnexpectedEOF):
        line, column = _end_position(text)
        return line, column, f"mismatched input '<EOF>' expecting {_expected(ex.expected)}"
    line = getattr(ex, "line", 1) or 1
    column = getattr(ex, "column", 1) or 1
    return line, column, "unexpected input"


def _expected(names: object) -> str:
    shown = sorted({_terminal_display(str(n)) for n in (names or ())})
    return "{" + ", ".join(shown) + "}"


def _terminal_display(name: str) -> str:
    if name in _TERMINAL_NAMES:
        return _TERMINAL_NAMES[name]
    try:
        pattern = get_parser().get_terminal(name).pattern
    except KeyError:
        return name
    if isinstance(pattern, lark.lexer.PatternStr):
        return f"'{pattern.value}'"
    return name


__all__ = ["parse", "get_parser", "CelCompileError"]
