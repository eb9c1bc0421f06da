"""A custom `_id` from columns must name one row: rows sharing its values would become one
document, and the job would find it only row by row (duplicate-key issues, or one root
overwriting another). A unique key of the table (primary key, unique constraint or index) whose
columns are all among the `_id`'s proves it; else the source is asked, one GROUP BY per table.
"""

from __future__ import annotations

from dataclasses import dataclass

from relmig.project.model import CollectionRule, CustomId, Project, Table
from relmig.source.sql import SqlSource


@dataclass(frozen=True, slots=True)
class DuplicateIds:
    collection: str
    table: str
    columns: list[str]
    values: int  # distinct `_id` values held by more than one row

    def message(self) -> str:
        cols = ", ".join(self.columns)
        return (
            f"collection {self.collection}: its custom _id ({cols}) is not unique in "
            f"{self.table}: {self.values:,} value(s) occur in more than one row, whose documents "
            "would share one _id; choose columns a unique key covers, or an expression"
        )


def unproven(project: Project) -> list[tuple[CollectionRule, Table, list[str]]]:
    """Collections whose custom `_id` columns no unique key of their table covers."""
    out = []
    for coll in project.collections:
        if not isinstance(coll.id, CustomId) or not coll.id.columns:
            continue
        table = project.table(coll.table)
        chosen = set(coll.id.columns)
        keys = [table.primary_key] + [i.columns for i in table.indexes if i.unique]
        if not any(key and set(key) <= chosen for key in keys):
            out.append((coll, table, list(coll.id.columns)))
    return out


def duplicate_ids(project: Project, source: SqlSource) -> list[DuplicateIds]:
    """The collections whose custom `_id` the source's rows repeat (asked only where no unique
    key proves it)."""
    found = []
    for coll, table, columns in unproven(project):
        cols = ", ".join(source.quote(c) for c in columns)
        (values,) = source.fetch(
            f"SELECT count(*) FROM (SELECT 1 FROM {source.relation(table)} GROUP BY {cols} "
            "HAVING count(*) > 1) repeated"
        )[0]
        if values:
            found.append(DuplicateIds(coll.name, table.id, columns, int(values)))
    return found
