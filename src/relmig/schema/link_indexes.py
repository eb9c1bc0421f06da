"""Link columns without an index: routing and recompute query by them on every change.

Every embedding is a link between two tables (a declared foreign key or a synthetic
relationship). The builder reads the embedded rows by the link's columns on one side, and the
router finds the rows that hold a changed row by the columns on the other side, so both ends
need an index whose leading columns are the link's; a schema without declared keys often has
none. `relmig check` lists what is missing with the CREATE INDEX that fixes it; a missing index
slows CDC down but does not stop it, so it does not hold a job back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from relmig.project.model import EmbedRule, Project, Table
from relmig.schema.introspect import import_tables
from relmig.source.capture import Prerequisite
from relmig.source.connect import open_source
from relmig.source.sql import SqlSource


@dataclass(frozen=True, slots=True)
class LinkEnd:
    table: str
    columns: tuple[str, ...]
    link: str  # the foreign key or relationship's name


def link_ends(project: Project) -> list[LinkEnd]:
    """Both ends of every link some rule follows, each once."""
    ends: dict[tuple[str, tuple[str, ...]], LinkEnd] = {}

    def visit(table_id: str, embeds: list[EmbedRule]) -> None:
        for e in embeds:
            holder = e.table if e.kind == "array" else table_id
            fk = project.link(holder, e.foreign_key)
            for end in (
                LinkEnd(holder, tuple(fk.columns), fk.name),
                LinkEnd(fk.ref_table, tuple(fk.ref_columns), fk.name),
            ):
                ends.setdefault((end.table, tuple(sorted(end.columns))), end)
            visit(e.table, e.embeds)

    for c in project.collections:
        visit(c.table, c.embeds)
    return list(ends.values())


def unindexed(project: Project, live: dict[str, Table] | None = None) -> list[LinkEnd]:
    """The link ends that no index starts with: of the tables as the source has them now
    (`live`, by id) where given, else as imported into the project."""
    tables = live or {}
    return [
        end
        for end in link_ends(project)
        if not _indexed(tables.get(end.table) or project.table(end.table), end.columns)
    ]


def unindexed_links(project: Project, password: str | None = None) -> list[Prerequisite]:
    """What `relmig check` advises, from the source's indexes as they are now."""
    ends = link_ends(project)
    if not ends:
        return []
    live = {t.id: t for t in import_tables(project.source, password, only={e.table for e in ends})}
    source = open_source(project.source, password)
    try:
        return [advice(source, project.table(e.table), e) for e in unindexed(project, live)]
    finally:
        source.close()


def _indexed(table: Table, columns: tuple[str, ...]) -> bool:
    """Whether an index, unique constraint or the primary key starts with exactly these
    columns, in any order."""
    leads = [table.primary_key, *(i.columns for i in table.indexes)]
    n = len(columns)
    return any(len(lead) >= n and set(lead[:n]) == set(columns) for lead in leads if lead)


def advice(source: SqlSource, table: Table, end: LinkEnd) -> Prerequisite:
    q = source.quote
    cols = ", ".join(q(c) for c in end.columns)
    name = re.sub(r"\W", "_", f"relmig_{table.name}_{'_'.join(end.columns)}")[:60]
    return Prerequisite(
        f"index on {table.id} ({', '.join(end.columns)})",
        f"no index starts with the link columns of {end.link}; every change routed "
        "through it scans the table",
        f"CREATE INDEX {q(name)} ON {source.qualified(table)} ({cols});",
        "recommended: CDC works without it, slowly",
    )
