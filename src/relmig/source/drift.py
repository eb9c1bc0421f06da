"""Schema drift: how a mapped table at the source differs from the job's project.

A running job meets DDL in its change stream (a pgoutput Relation message, a binlog ALTER). It
then reads the table's definition with the import's own reflection (relmig.schema.introspect),
so that type names compare with the project's exactly, and sorts what changed:

- additive: a new column. The job goes on (the mapping does not read it) and says so.
- breaking: a mapped column gone or renamed, a column's type changed, the table gone. The
  mapping no longer describes the rows; applying on would write documents a fresh snapshot
  would not give, so the job pauses at the DDL (`SchemaChanged` carrying the drift).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from relmig.errors import SchemaChanged
from relmig.project.model import Project, Table

NEW_COLUMN = "new column"
COLUMN_GONE = "column gone"
TYPE_CHANGED = "type changed"
TABLE_GONE = "table gone"
PARTITION_GONE = "partition gone"  # a partition dropped: rows gone without a WAL record


@dataclass(frozen=True, slots=True)
class Drift:
    table: str
    kind: str
    column: str | None = None
    was: str | None = None
    now: str | None = None

    @property
    def breaking(self) -> bool:
        return self.kind != NEW_COLUMN

    def text(self) -> str:
        """In the user's terms, with what to do about it."""
        if self.kind == NEW_COLUMN:
            return (
                f"{self.table} has a new column {self.column} ({self.now}), not in the mapping; "
                "to migrate it, re-import the table and apply the project to this job "
                "(relmig jobs update JOB PROJECT_FILE, or Update mapping on the job page)"
            )
        if self.kind == COLUMN_GONE:
            what = f"{self.table}.{self.column}, a column of the mapping, was dropped or renamed"
        elif self.kind == PARTITION_GONE:
            what = (
                f"partition {self.column} of {self.table} was dropped (or detached and dropped) "
                "before its rows could be read, so documents of its rows may be out of date"
            )
        elif self.kind == TYPE_CHANGED:
            what = f"{self.table}.{self.column} changed type from {self.was} to {self.now}"
        else:
            what = f"{self.table}, a table of the mapping, was dropped or renamed"
        return (
            f"{what}: the job paused before applying anything after this change; re-import the "
            "table, fix the rules that name it, and apply the project to this job (relmig jobs "
            "update JOB PROJECT_FILE, or Update mapping on the job page)"
        )


# Where a running job reports additive drift (the state store's drift records).
DriftSink = Callable[[list[Drift]], None]


def compare(wanted: Table, now: Table | None) -> list[Drift]:
    """What differs between the project's table and the source's current one."""
    if now is None:
        return [Drift(wanted.id, TABLE_GONE)]
    current = {c.name: c for c in now.columns}
    out = []
    for column in wanted.columns:
        found = current.get(column.name)
        if found is None:
            out.append(Drift(wanted.id, COLUMN_GONE, column.name, column.type))
        elif found.type != column.type:
            out.append(Drift(wanted.id, TYPE_CHANGED, column.name, column.type, found.type))
    known = {c.name for c in wanted.columns}
    out += [
        Drift(wanted.id, NEW_COLUMN, c.name, None, c.type)
        for c in now.columns
        if c.name not in known
    ]
    return out


def current_drift(
    project: Project, password: str | None, table_ids: Collection[str]
) -> list[Drift]:
    """The drift of the given mapped tables, from the source's catalog now."""
    # Imported here: the reflection pulls SQLAlchemy's dialects, which a stream that meets no
    # DDL never needs.
    from relmig.schema.introspect import import_tables

    if not table_ids:
        return []
    wanted = [project.table(t) for t in sorted(set(table_ids))]
    found = {t.id: t for t in import_tables(project.source, password, only=[t.id for t in wanted])}
    return [d for table in wanted for d in compare(table, found.get(table.id))]


def act_on(drifts: Iterable[Drift], on_drift: DriftSink | None) -> None:
    """What a stream does with the drift it met, each once: breaking drift stops it here
    (`SchemaChanged` carrying the drift), additive drift is reported and read past."""
    found = list(dict.fromkeys(drifts))
    if any(d.breaking for d in found):
        text = "; ".join(d.text() for d in found if d.breaking)
        raise SchemaChanged(f"schema change during CDC: {text}", found)
    if found and on_drift is not None:
        on_drift(found)
