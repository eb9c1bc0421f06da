"""What can be known of an expression before a row arrives: does it compile, which columns
does it read. The project validator refuses what does not compile, and the plan selects only
the columns the expressions read."""

from __future__ import annotations

import re

from relmig.expressions.sandbox import sandbox

_USE = re.compile(r"(?<![\w$.])columns(?![\w$])")
_LITERAL = re.compile(
    r"""\s*(?:\[\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*\]|\.\s*([A-Za-z_$][\w$]*))"""
)


def syntax_problem(expression: str) -> str | None:
    """The engine's message when the expression does not compile, else None."""
    if not expression.strip():
        return "the expression is empty"
    return sandbox().check(expression)


def referenced_columns(expression: str) -> set[str] | None:
    """The column names read as `columns["name"]` or `columns.name`; None when the expression
    uses `columns` in another way (a computed name, the whole object), so it may read any."""
    found: set[str] = set()
    for use in _USE.finditer(expression):
        literal = _LITERAL.match(expression, use.end())
        if literal is None:
            return None
        double, single, dotted = literal.groups()
        name = dotted if dotted is not None else (double if double is not None else single)
        found.add(_unescape(name))
    return found


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)
