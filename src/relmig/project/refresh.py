"""A project's tables read again from its source, its rules kept (`relmig refresh`, the job
page's Refresh tables): the way a column added, renamed or retyped at the source reaches the
mapping, and through `relmig jobs update` a running job."""

from __future__ import annotations

from relmig.project.file import parse_project
from relmig.project.model import Project
from relmig.source.drift import compare


def refreshed(project: Project, password: str | None) -> tuple[Project, list[str]]:
    """The project with each table as the source defines it now, and what changed. A table
    the source no longer has is kept as it was, and said: a rule reading it must change."""
    # Imported here: the reflection pulls SQLAlchemy's dialects.
    from relmig.schema.introspect import import_tables

    fresh = {
        t.id: t for t in import_tables(project.source, password, [t.id for t in project.tables])
    }
    changes = []
    for table in project.tables:
        now = fresh.get(table.id)
        changes += [
            f"{d.table}: {d.kind}" + (f" {d.column}" if d.column else "")
            for d in compare(table, now)
        ]
    tables = [fresh.get(t.id, t).model_dump(mode="json", by_alias=True) for t in project.tables]
    body = {**project.model_dump(mode="json", by_alias=True), "tables": tables}
    # The one validator: a rule naming a column that is gone says so, by its path.
    return parse_project(body, "the refreshed project"), changes
