"""WHERE and HAVING → query filters, with SQL's three-valued logic.

A SQL condition is true, false or unknown (NULL) for a row, and WHERE keeps the true ones; a
MongoDB filter only matches or not, and `$ne`, `$nin` and `$not` match a missing or null field.
So each condition is translated twice, for the rows where it is true and for those where it is
false (`truth(node, want)`): NOT p is true where p is false, which is not "where p is not true"
as soon as p can be unknown (`NOT (x > 5)` keeps no row whose x is NULL; `x NOT IN (1, NULL)`
keeps none at all).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bson.decimal128 import Decimal128
from bson.regex import Regex
from sqlglot import exp

from relmig.documents.plan import FieldPlan
from relmig.queries.literals import ORDERED, stored
from relmig.queries.places import Path, dotted
from relmig.queries.refusal import refuse, shown

NEVER: dict[str, Any] = {"_id": {"$exists": False}}  # every document has an _id
ALWAYS: dict[str, Any] = {}

_OPS = {exp.EQ: "=", exp.NEQ: "<>", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<="}
_MONGO = {"=": "$eq", "<>": "$ne", ">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte"}
_NEGATED = {"=": "<>", "<>": "=", ">": "<=", ">=": "<", "<": ">=", "<=": ">"}
_SWAPPED = {"=": "=", "<>": "<>", ">": "<", ">=": "<=", "<": ">", "<=": ">="}


@dataclass
class Operand:
    """A value a condition reads: a field of the working document and what the column is."""

    path: Path
    kind: str | None  # relmig.queries.literals.family, or None (compared by equality never)
    field: FieldPlan | None = None  # whose converter makes a literal's stored form
    width: int | None = None  # PostgreSQL char(n)
    scale: int = 0  # digits after the decimal point
    ordered: str | None = None  # why it cannot be ordered by the target, if it cannot
    equal: str | None = None  # why it cannot even be compared for equality
    collated: bool = False  # under an explicit binary COLLATE
    nullable: bool = True


class Param:
    """A query parameter (`%s`, `$1`, `?`), kept a parameter in the output."""

    def __init__(self, index: int, operand: Operand | None = None) -> None:
        self.index = index
        self.operand = operand

    def __repr__(self) -> str:
        return f"Param({self.index})"


Resolve = Callable[[exp.Expression], Operand | None]
# EXISTS or IN (SELECT …) → the filter where it is `want` (relmig.queries.subqueries).
Subquery = Callable[[exp.Expression, bool], dict[str, Any]]


class Conditions:
    def __init__(
        self,
        resolve: Resolve,
        params: list[Param],
        sql: str,
        *,
        ci_strings: str | None,
        subquery: Subquery | None = None,
    ) -> None:
        self.resolve = resolve
        self.subquery = subquery
        self.params = params
        self.sql = sql
        self.ci_strings = ci_strings  # why a string comparison is not by code point, if it is not

    def match(self, node: exp.Expression) -> dict[str, Any]:
        return self.truth(node, True)

    def truth(self, node: exp.Expression, want: bool) -> dict[str, Any]:
        """A filter matching the documents where `node` is `want` (never where it is unknown)."""
        while isinstance(node, exp.Paren):
            node = node.this
        if isinstance(node, exp.Not):
            return self.truth(node.this, not want)
        if node.args.get("negate"):  # sqlglot's IS NOT, NOT LIKE, NOT ILIKE
            want = not want
        if isinstance(node, exp.And | exp.Or):
            parts = [self.truth(p, want) for p in (node.this, node.expression)]
            return _all(parts) if isinstance(node, exp.And) == want else _any(parts)
        if isinstance(node, exp.Boolean):
            return ALWAYS if bool(node.this) == want else NEVER
        if isinstance(node, exp.Null):
            return NEVER
        if type(node) in _OPS:
            return self._compare(node, _OPS[type(node)], want)
        if isinstance(node, exp.Between):
            low = exp.GTE(this=node.this, expression=node.args["low"])
            high = exp.LTE(this=node.this, expression=node.args["high"])
            return self.truth(exp.And(this=low, expression=high), want)
        if isinstance(node, exp.Is):
            return self._is(node, want)
        if isinstance(node, exp.In):
            return self._in(node, want)
        if isinstance(node, exp.Escape | exp.Like | exp.ILike):
            return self._like(node, want)
        if isinstance(node, exp.Column):
            operand = self._operand(node)
            if operand.kind != "bool":
                raise refuse(
                    f"{shown(node, self.sql)} used as a condition (not a boolean column)",
                    node,
                    self.sql,
                )
            return {dotted(operand.path): want}
        if isinstance(node, exp.Exists) and self.subquery is not None:
            return self.subquery(node, want)
        if isinstance(node, exp.Exists | exp.Subquery):
            raise refuse("a subquery", node, self.sql)
        raise refuse(f"the condition {shown(node, self.sql)}", node, self.sql)

    # --- comparisons --------------------------------------------------------------------------

    def _operand(self, node: exp.Expression) -> Operand:
        operand = self.resolve(node)
        if operand is None:
            raise refuse(
                f"{shown(node, self.sql)} in a condition (not a column of the query's tables)",
                node,
                self.sql,
            )
        return operand

    def _value(self, operand: Operand, node: exp.Expression) -> Any:
        """The literal (or parameter) as the documents hold it; None for NULL."""
        while isinstance(node, exp.Paren):
            node = node.this
        if isinstance(node, exp.Placeholder | exp.Parameter):
            param = Param(len(self.params) + 1, operand)
            self.params.append(param)
            return param
        if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
            return self._value(operand, exp.Literal.number(f"-{node.this.this}"))
        if isinstance(node, exp.Cast):
            return self._value(operand, node.this)
        if isinstance(node, exp.Null):
            return None
        if isinstance(node, exp.Boolean):
            raw: Any = bool(node.this)
        elif isinstance(node, exp.Literal):
            raw = node.this if node.is_string else Decimal(node.this)
        else:
            raise refuse(
                f"{shown(node, self.sql)} compared with a column (only literals)", node, self.sql
            )
        if operand.kind is None:
            raise refuse(
                f"a comparison of {shown(node, self.sql)} with a column of this type",
                node,
                self.sql,
            )
        try:
            value = stored(operand.field, operand.kind, raw, operand.width)
        except ValueError as exc:
            raise refuse(f"the literal {shown(node, self.sql)} ({exc})", node, self.sql) from None
        return bson_value(value)

    def _compare(self, node: exp.Expression, op: str, want: bool) -> dict[str, Any]:
        left, right = node.this, node.expression
        if isinstance(
            left, exp.Literal | exp.Null | exp.Placeholder | exp.Parameter | exp.Neg | exp.Cast
        ):
            left, right, op = right, left, _SWAPPED[op]
        operand = self._operand(left)
        other = self.resolve(right)
        if other is not None:
            return self._columns(node, operand, other, op, want)
        self._comparable(operand, op, node)
        value = self._value(operand, right)
        if value is None:
            return NEVER  # = NULL, < NULL …: unknown for every row
        op = op if want else _NEGATED[op]
        path = dotted(operand.path)
        if op == "<>":
            return {path: {"$nin": [value, None]}}
        return {path: value} if op == "=" else {path: {_MONGO[op]: value}}

    def _columns(
        self, node: exp.Expression, left: Operand, right: Operand, op: str, want: bool
    ) -> dict[str, Any]:
        """Two columns: `$expr` orders null below everything, so both must be present."""
        for operand in (left, right):
            self._comparable(operand, op, node)
        numbers = {"int", "decimal", "float"}
        if left.kind != right.kind and not {left.kind, right.kind} <= numbers:
            raise refuse(
                f"a comparison of columns of different types ({shown(node, self.sql)})",
                node,
                self.sql,
            )
        op = op if want else _NEGATED[op]
        a, b = dotted(left.path), dotted(right.path)
        compared = {"$expr": {_MONGO[op]: ["$" + a, "$" + b]}}
        return {"$and": [{a: {"$ne": None}}, {b: {"$ne": None}}, compared]}

    def _comparable(self, operand: Operand, op: str, node: exp.Expression) -> None:
        if operand.equal:
            raise refuse(operand.equal, node, self.sql)
        if operand.kind == "text" and self.ci_strings and not operand.collated:
            raise refuse(self.ci_strings, node, self.sql)
        if op not in ("=", "<>"):
            if operand.kind not in ORDERED:
                raise refuse(
                    f"{op} on a column that is not a number, date or string", node, self.sql
                )
            if operand.ordered:
                raise refuse(operand.ordered, node, self.sql)

    def _is(self, node: exp.Is, want: bool) -> dict[str, Any]:
        if not isinstance(node.expression, exp.Null):
            raise refuse(f"IS {shown(node.expression, self.sql)}", node, self.sql)
        path = dotted(self._operand(node.this).path)
        return {path: None} if want else {path: {"$ne": None}}

    def _in(self, node: exp.In, want: bool) -> dict[str, Any]:
        if node.args.get("query") is not None and self.subquery is not None:
            return self.subquery(node, want)
        if node.args.get("query") is not None or node.args.get("unnest") is not None:
            raise refuse("IN with a subquery", node, self.sql)
        operand = self._operand(node.this)
        self._comparable(operand, "=", node)
        values = [self._value(operand, v) for v in node.expressions]
        known = [v for v in values if v is not None]
        path = dotted(operand.path)
        if want:
            return {path: {"$in": known}} if known else NEVER
        if len(known) < len(values):
            return NEVER  # x NOT IN (…, NULL) is never true
        return {path: {"$nin": [*known, None]}}

    def _like(self, node: exp.Expression, want: bool) -> dict[str, Any]:
        escape = "\\"
        if isinstance(node, exp.Escape):
            escape_node = node.expression
            if not isinstance(escape_node, exp.Literal) or len(escape_node.this) != 1:
                raise refuse("an ESCAPE that is not one character", node, self.sql)
            escape, node = escape_node.this, node.this
            if node.args.get("negate"):
                want = not want
        operand = self._operand(node.this)
        if operand.kind != "text":
            raise refuse("LIKE on a column that is not a string", node, self.sql)
        if operand.width is not None:
            raise refuse(
                "LIKE on a char(n) column: PostgreSQL matches it without the padding the "
                "documents keep",
                node,
                self.sql,
            )
        insensitive = isinstance(node, exp.ILike)
        if self.ci_strings and not insensitive and not operand.collated:
            raise refuse(self.ci_strings, node, self.sql)
        pattern = node.expression
        if not isinstance(pattern, exp.Literal) or not pattern.is_string:
            raise refuse("LIKE with a pattern that is not a string literal", node, self.sql)
        regex = Regex(like_regex(pattern.this, escape), "si" if insensitive else "s")
        path = dotted(operand.path)
        if want:
            return {path: regex}
        return {"$and": [{path: {"$ne": None}}, {path: {"$not": regex}}]}


def like_regex(pattern: str, escape: str) -> str:
    """A LIKE pattern as an anchored regular expression: % any run, _ one character."""
    out, chars = ["^"], iter(pattern)
    for ch in chars:
        if ch == escape:
            out.append(re.escape(next(chars, escape)))
        elif ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
    out.append("$")
    return "".join(out)


def bson_value(value: Any) -> Any:
    """Python decimals (a literal compared with an integer column) as BSON decimals."""
    if isinstance(value, Decimal):
        return Decimal128(value)
    return value


def _all(parts: list[dict[str, Any]]) -> dict[str, Any]:
    if any(p is NEVER for p in parts):
        return NEVER
    kept = [p for p in parts if p]
    flat = [q for p in kept for q in (p["$and"] if list(p) == ["$and"] else [p])]
    return flat[0] if len(flat) == 1 else ({"$and": flat} if flat else ALWAYS)


def _any(parts: list[dict[str, Any]]) -> dict[str, Any]:
    if any(p == ALWAYS for p in parts):
        return ALWAYS
    kept = [p for p in parts if p is not NEVER]
    flat = [q for p in kept for q in (p["$or"] if list(p) == ["$or"] else [p])]
    return flat[0] if len(flat) == 1 else ({"$or": flat} if flat else NEVER)
