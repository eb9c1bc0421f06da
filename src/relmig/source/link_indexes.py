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

import sqlalchemy as sa

from relmig.errors import SourceError
from relmig.project.model import EmbedRule, Project, Table
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


def unindexed_links(project: Project, password: str | None = None) -> list[Prerequisite]:
    ends = link_ends(project)
    if not ends:
        return []
    source = open_source(project.source, password)
    engine = sa.create_engine(source.sqlalchemy_url(), connect_args={"connect_timeout": 10})
    try:
        inspector = sa.inspect(engine)
        missing = []
        for end in ends:
            table = project.table(end.table)
            if not _indexed(inspector, table, set(end.columns)):
                missing.append(_advice(source, table, end))
        return missing
    except sa.exc.SQLAlchemyError as exc:
        msg = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise SourceError(f"cannot read the indexes of the {source.where}: {msg}") from None
    finally:
        engine.dispose()


def _indexed(inspector: sa.Inspector, table: Table, columns: set[str]) -> bool:
    """Whether an index (or the primary key) starts with exactly these columns."""
    leading = [inspector.get_pk_constraint(table.name, schema=table.schema_)["constrained_columns"]]
    leading += [
        ix["column_names"] for ix in inspector.get_indexes(table.name, schema=table.schema_)
    ]
    leading += [
        uc["column_names"]
        for uc in inspector.get_unique_constraints(table.name, schema=table.schema_)
    ]
    n = len(columns)
    return any(len(cols) >= n and set(cols[:n]) == columns for cols in leading if cols)


def _advice(source: SqlSource, table: Table, end: LinkEnd) -> Prerequisite:
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
