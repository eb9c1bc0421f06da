"""Columns whose values the target cannot store as they are, from their type and a scan of the
edge values actually present (one aggregate query per table).

The type map (docs/type-mapping.md) says which values have no BSON form: NaN and infinities in a
target without them, infinite dates, MySQL zero dates, multi-dimensional arrays where the target
has no nested arrays (FerretDB v1).
Whether a column holds any is a fact of the data, so each is counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from relmig.mongo.profile import TargetProfile
from relmig.project.model import Column, Table
from relmig.source.sql import SqlSource


@dataclass(slots=True)
class EdgeCheck:
    column: str
    what: str  # the values, in the user's terms
    predicate: str  # SQL that is true for a row holding one


# (dialect, kind of column) → (what the values are, SQL true for a row holding one, the
# TargetProfile flag of a target that stores them, None where no target does). NaN and
# infinities in a decimal column are Decimal128 values where the target has Decimal128;
# FerretDB v1 has none: there they become text.
_EDGES: dict[tuple[str, str], tuple[str, str, str | None]] = {
    ("postgresql", "float"): (
        "NaN or infinite numbers",
        "{q} IN ('NaN', 'Infinity', '-Infinity')",
        "non_finite_doubles",
    ),
    ("postgresql", "numeric"): (
        "NaN or infinite decimals (stored as text where there is no Decimal128)",
        "{q} IN ('NaN', 'Infinity', '-Infinity')",
        "decimal128",
    ),
    ("postgresql", "date"): ("infinite dates", "NOT isfinite({q})", None),
    ("postgresql", "array"): (
        "multi-dimensional arrays (nested arrays)",
        "array_ndims({q}) > 1",
        "nested_arrays",
    ),
    ("mysql", "date"): ("zero dates", "CAST({q} AS CHAR) LIKE '0000-00-00%'", None),
}


def edge_checks(source: SqlSource, table: Table, profile: TargetProfile | None) -> list[EdgeCheck]:
    """The edge values to count in `table`: those the target's probe found it cannot store
    (an unknown target is taken to store none of them)."""
    checks = []
    for col in table.columns:
        edge = _EDGES.get((source.settings.dialect, _kind(col)))
        if edge is None:
            continue
        what, predicate, flag = edge
        if flag is not None and profile is not None and getattr(profile, flag):
            continue  # this target stores them
        checks.append(EdgeCheck(col.name, what, predicate.format(q=source.quote(col.name))))
    return checks


def count_edges(
    source: SqlSource, table: Table, checks: list[EdgeCheck]
) -> list[tuple[EdgeCheck, int]]:
    """How many rows hold each kind of edge value (only those with some)."""
    if not checks:
        return []
    counts = ", ".join(f"sum(CASE WHEN {c.predicate} THEN 1 ELSE 0 END)" for c in checks)
    row = source.fetch(f"SELECT {counts} FROM {source.relation(table)}")[0]
    return [(c, int(n)) for c, n in zip(checks, row, strict=True) if n]


def _kind(col: Column) -> str:
    t = col.type.lower()
    if t.endswith("[]") or t.startswith("_"):
        return "array"
    if t.startswith(("real", "double", "float")):
        return "float"
    if t.startswith(("numeric", "decimal")):
        return "numeric"
    if t.startswith(("date", "timestamp", "datetime")):
        return "date"
    return "other"
