"""A query that cannot be converted: what, and where in the SQL text."""

from __future__ import annotations

from sqlglot import exp

from relmig.errors import RelmigError


class CannotConvert(RelmigError):
    """Raised for any construct the converter does not turn into an equal MongoDB query."""


def at(node: exp.Expression | None, sql: str) -> str:
    """ " at line L col C" for the node's first identifier (or other token), else the first
    place of its keyword in the text; empty when neither can be found."""
    if node is None:
        return ""
    for part in node.walk(bfs=False):
        meta = getattr(part, "meta", None) or {}
        if "start" in meta:
            return _position(sql, int(meta["start"]))
    word = (node.name if isinstance(node, exp.Anonymous) else node.key).lower()
    found = sql.lower().find(word.replace("_", " ")) if word else -1
    if found < 0 and word:
        found = sql.lower().find(word)
    return _position(sql, found) if found >= 0 else ""


def _position(sql: str, offset: int) -> str:
    line = sql.count("\n", 0, offset) + 1
    col = offset - (sql.rfind("\n", 0, offset) + 1) + 1
    return f" at line {line} col {col}"


def shown(node: exp.Expression, sql: str) -> str:
    """The node as the user wrote it (sqlglot's own text rewrites some: MariaDB's `a / b`
    comes back as `a / NULLIF(b, 0)`)."""
    spans = [
        (int(meta["start"]), int(meta["end"]))
        for part in node.walk()
        if "start" in (meta := getattr(part, "meta", None) or {})
    ]
    if not spans:
        return node.sql()
    start, end = min(a for a, _ in spans), max(b for _, b in spans) + 1
    text = sql[start:end]
    while text.count("(") > text.count(")") and end < len(sql):
        end += 1  # the closing parentheses after the last token
        text = sql[start:end]
    return text


def refuse(what: str, node: exp.Expression | None, sql: str) -> CannotConvert:
    return CannotConvert(f"cannot convert: {what}{at(node, sql)}")
