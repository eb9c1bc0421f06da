"""A column as a condition or a value reads it: its field, and what the target can do with it
(order it as the source does, or even compare it), which the column's type, its rule's BSON
type, the target's decimals and the source's collation decide."""

from __future__ import annotations

from relmig.documents.plan import DecimalMode, FieldPlan
from relmig.project.model import Dialect
from relmig.queries.conditions import Operand
from relmig.queries.literals import char_width, family, scale
from relmig.queries.places import Path, Place
from relmig.queries.scope import Capabilities


def field_of(place: Place, column: str) -> FieldPlan | None:
    return next((f for f in place.node.fields if f.column == column), None)


def column_named(place: Place, name: str) -> str | None:
    """The table's column by SQL's rules: exact, else the one that matches ignoring case."""
    columns = [c.name for c in place.node.table.columns]
    if name in columns:
        return name
    return next((c for c in columns if c.lower() == name.lower()), None)


def column_operand(
    place: Place,
    column: str,
    path: Path,
    dialect: Dialect,
    caps: Capabilities,
    decimals: DecimalMode,
) -> Operand:
    col = place.node.table.column(column)
    kind = family(col)
    plan = field_of(place, column)
    operand = Operand(path, kind, plan, char_width(col, dialect), scale(col))
    operand.nullable = col.nullable or place.maybe_absent
    if plan is not None and plan.coerced:
        operand.ordered = (
            f"{column} is stored with another BSON type than the source's, so its order differs"
        )
    if kind == "decimal" and decimals != "decimal128":
        why = f"{column} holds exact decimals, which {caps.target} stores as {decimals}s here"
        operand.ordered = why
        if decimals == "string":
            operand.equal = why
    if kind == "text" and not caps.binary_strings:
        operand.ordered = (
            f"the source orders strings by its collation ({caps.collation}), MongoDB "
            'by code point; add COLLATE "C" (PostgreSQL) or COLLATE utf8mb4_bin (MariaDB) '
            "to convert it"
        )
    return operand
