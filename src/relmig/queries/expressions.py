"""Values a SELECT computes → aggregation expressions.

Arithmetic keeps the source's rules: PostgreSQL divides integers with truncation; MariaDB's
`/` gives a decimal with the dividend's scale plus `div_precision_increment` (4) digits; a
divisor that may be zero or NULL is refused, since the source fails (or gives NULL) where
`$divide` fails differently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlglot import exp

from relmig.project.model import Dialect
from relmig.queries.conditions import bson_value
from relmig.queries.places import Path, dotted
from relmig.queries.refusal import refuse, shown

_ARITHMETIC = {exp.Add: "$add", exp.Sub: "$subtract", exp.Mul: "$multiply"}
_NUMBERS = {"int", "decimal", "float"}
MYSQL_DIV_DIGITS = 4


@dataclass
class Value:
    expr: Any  # an aggregation expression
    kind: str | None  # the result's family (relmig.queries.literals)
    scale: int = 0  # decimal digits after the point, where the source's rules need them
    ordered: str | None = None  # why the target cannot order it as the source does
    equal: str | None = None  # why the target does not even hold it as the source's value
    nullable: bool = True


# A column (or, after $group, an aggregate or a grouping key) → its value; None if not one.
ResolveValue = Callable[[exp.Expression], Value | None]


def field_ref(path: Path) -> str:
    return "$" + dotted(path)


class Values:
    def __init__(self, resolve: ResolveValue, dialect: Dialect, sql: str) -> None:
        self.resolve = resolve
        self.dialect = dialect
        self.sql = sql

    def value(self, node: exp.Expression) -> Value:
        resolved = self.resolve(node)
        if resolved is not None:
            return resolved
        if isinstance(node, exp.Paren):
            return self.value(node.this)
        if isinstance(node, exp.Literal):
            if node.is_string:
                return Value({"$literal": node.this}, "text", nullable=False)
            number = Decimal(node.this)
            if (
                number == number.to_integral_value()
                and "." not in node.this
                and "e" not in node.this.lower()
            ):
                return Value({"$literal": int(number)}, "int", nullable=False)
            scale = max(0, -number.as_tuple().exponent)  # type: ignore[operator]
            return Value({"$literal": bson_value(number)}, "decimal", scale, nullable=False)
        if isinstance(node, exp.Null):
            return Value(None, None)
        if isinstance(node, exp.Neg):
            inner = self._number(node.this)
            return Value({"$multiply": [-1, inner.expr]}, inner.kind, inner.scale)
        if type(node) in _ARITHMETIC:
            left, right = self._number(node.this), self._number(node.expression)
            kind = _wider(left.kind, right.kind)
            scale = max(left.scale, right.scale)
            if isinstance(node, exp.Mul):
                scale = left.scale + right.scale
            return Value({_ARITHMETIC[type(node)]: [left.expr, right.expr]}, kind, scale)
        if isinstance(node, exp.Div):
            return self._divide(node)
        if isinstance(node, exp.Coalesce):
            parts = [self.value(p) for p in (node.this, *node.expressions)]
            expr: Any = parts[-1].expr
            for part in reversed(parts[:-1]):
                expr = {"$ifNull": [part.expr, expr]}
            return Value(expr, parts[0].kind, max(p.scale for p in parts))
        if isinstance(node, exp.Func):
            name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
            raise refuse(f"the function {name.upper()} (only COALESCE)", node, self.sql)
        raise refuse(shown(node, self.sql), node, self.sql)

    def _number(self, node: exp.Expression) -> Value:
        value = self.value(node)
        if value.kind not in _NUMBERS:
            raise refuse(
                f"arithmetic on {shown(node, self.sql)}, which is not a number", node, self.sql
            )
        if value.equal:
            raise refuse(value.equal, node, self.sql)
        return value

    def _divide(self, node: exp.Div) -> Value:
        left, right = self._number(node.this), self._number(node.expression)
        divisor = node.expression
        while isinstance(divisor, exp.Paren):
            divisor = divisor.this
        if not (isinstance(divisor, exp.Literal) and Decimal(divisor.this) != 0):
            raise refuse(
                "a division by something other than a non-zero number (the source fails or "
                "gives NULL on zero, MongoDB fails differently)",
                node,
                self.sql,
            )
        quotient: Any = {"$divide": [left.expr, right.expr]}
        if self.dialect == "postgresql":
            if left.kind == "int" and right.kind == "int":
                return Value({"$trunc": quotient}, "int")
            return Value(quotient, _wider(left.kind, right.kind), 16)
        scale = left.scale + MYSQL_DIV_DIGITS
        if left.kind == "float" or right.kind == "float":
            return Value(quotient, "float")
        return Value({"$round": [quotient, scale]}, "decimal", scale)


def _wider(a: str | None, b: str | None) -> str:
    for kind in ("float", "decimal", "int"):
        if kind in (a, b):
            return kind
    return "int"
