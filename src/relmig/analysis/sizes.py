"""SQL that measures a mapping on the source: children per parent, and document sizes per root.

Both are one aggregate query each, so they see every row (a root that passes 16 MB is found
however rare it is), and neither reads more than a number per group back.
"""

from __future__ import annotations

from typing import Any

from relmig.project.model import CollectionRule, EmbedRule, Project, Table
from relmig.source.sql import SqlSource


def children_per_parent(source: SqlSource, child: Table, columns: list[str]) -> dict[str, Any]:
    """Parents with children, and the max and p99 (nearest rank) children per parent."""
    cols = ", ".join(source.quote(c) for c in columns)
    not_null = " AND ".join(f"{source.quote(c)} IS NOT NULL" for c in columns)
    parents, most, p99 = source.fetch(
        "SELECT count(*), max(n), min(CASE WHEN r >= 0.99 THEN n END) FROM ("
        "SELECT n, cume_dist() OVER (ORDER BY n) AS r FROM ("
        f"SELECT count(*) AS n FROM {source.relation(child)} WHERE {not_null} "
        f"GROUP BY {cols}) AS g) AS d"
    )[0]
    return {"parents": int(parents), "max": int(most or 0), "p99": int(p99 or 0)}


def largest_roots(
    source: SqlSource, project: Project, rule: CollectionRule, limit: int = 5
) -> list[tuple[tuple[Any, ...], int]]:
    """The roots with the largest estimated documents: (key, bytes), largest first.

    A row's size is the length of its JSON text (names and values, close to its BSON size);
    a root's is its row plus, recursively, the rows it embeds.
    """
    table = project.table(rule.table)
    alias = "r"
    joins, total = _embedded(source, project, table, alias, rule.embeds, 0)
    key = ", ".join(f"{alias}.{source.quote(c)}" for c in table.primary_key)
    rows = source.fetch(
        f"SELECT {key}, {_row_size(source, table, alias)}{total} AS size "
        f"FROM {source.relation(table)} {alias}{joins} ORDER BY size DESC LIMIT {int(limit)}"
    )
    width = len(table.primary_key)
    return [(tuple(r[:width]), int(r[width])) for r in rows]


def _row_size(source: SqlSource, table: Table, alias: str) -> str:
    if source.settings.dialect == "postgresql":
        return f"octet_length(row_to_json({alias})::text)"
    pairs = ", ".join(f"'{c.name}', {alias}.{source.quote(c.name)}" for c in table.columns)
    return f"length(JSON_OBJECT({pairs}))"


def _embedded(
    source: SqlSource,
    project: Project,
    parent: Table,
    parent_alias: str,
    embeds: list[EmbedRule],
    depth: int,
) -> tuple[str, str]:
    """LEFT JOINs of the subqueries that size each embedding, and the sum they add."""
    joins, total = "", ""
    for i, embed in enumerate(embeds):
        if embed.primitive is not None:
            continue
        table = project.table(embed.table)
        sub = f"e{depth}_{i}"
        inner = f"{sub}r"
        nested_joins, nested = _embedded(source, project, table, inner, embed.embeds, depth + 1)
        size = f"{_row_size(source, table, inner)}{nested}"
        if embed.kind == "array":
            fk = table.foreign_key(embed.foreign_key)
            keys = ", ".join(f"{inner}.{source.quote(c)}" for c in fk.columns)
            names = ", ".join(
                f"{inner}.{source.quote(c)} AS k{j}" for j, c in enumerate(fk.columns)
            )
            query = (
                f"SELECT {names}, sum({size}) AS size FROM {source.relation(table)} {inner}"
                f"{nested_joins} GROUP BY {keys}"
            )
            on = zip(fk.ref_columns, range(len(fk.columns)), strict=True)
        else:
            fk = parent.foreign_key(embed.foreign_key)
            names = ", ".join(
                f"{inner}.{source.quote(c)} AS k{j}" for j, c in enumerate(fk.ref_columns)
            )
            query = f"SELECT {names}, {size} AS size FROM {source.relation(table)} {inner}"
            query += nested_joins
            on = zip(fk.columns, range(len(fk.columns)), strict=True)
        cond = " AND ".join(f"{sub}.k{j} = {parent_alias}.{source.quote(c)}" for c, j in on)
        joins += f" LEFT JOIN ({query}) {sub} ON {cond}"
        total += f" + coalesce({sub}.size, 0)"
    return joins, total
