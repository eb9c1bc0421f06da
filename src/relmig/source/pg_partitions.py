"""Partitions attached to or detached from a mapped table while CDC runs.

ATTACH PARTITION and DETACH PARTITION move a whole table in or out of a partitioned one, and no
WAL record carries its rows: the stream never hears of them, so an attached partition's rows
would be missing from MongoDB and a detached one's would stay. The stream polls the leaves of
each mapped partitioned table (one catalog query) and turns a difference into changes: the rows
of a new leaf as inserts, those of a leaf gone as deletes. The applier rebuilds the roots they
reach from the source's current rows, so a row seen twice changes nothing.

The first poll, as the stream opens, compares with the partitions the project lists (as
imported), not with the catalog of that moment: a partition attached or detached while the job
was paused, or before a crash let its rows be applied, is found then. (A partition attached
since the import has its rows applied again at each opening, until a new `relmig import`.) Not
covered: a partition that moved while the stream ran and moved back while it did not, which
the project's list cannot tell. A partition dropped outright takes its rows with it, unread:
the job fails saying so, as for other DDL on a mapped table.
"""

from __future__ import annotations

import time
from typing import Any

from relmig.errors import SchemaChanged, SourceError
from relmig.project.model import Table
from relmig.source.changes import RowChange
from relmig.source.drift import PARTITION_GONE, Drift
from relmig.source.postgres import PostgresSource
from relmig.source.spool import SpooledChanges

POLL_SECONDS = 5.0

_LEAVES = (
    "SELECT r.i, n.nspname, c.relname "
    "FROM unnest(%s::regclass[]) WITH ORDINALITY AS r(root, i), pg_partition_tree(r.root) t "
    "JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE t.isleaf AND t.level > 0"
)


class PartitionWatch:
    def __init__(
        self, source: PostgresSource, tables: list[Table], every: float = POLL_SECONDS
    ) -> None:
        self.source = source
        self.every = every
        self.tables = [t for t in tables if t.partitioned]
        self._due = time.monotonic()  # at once
        self.known = {t.id: {(t.schema_, p) for p in t.partitions} for t in self.tables}

    def _leaves(self) -> dict[str, set[tuple[str, str]]]:
        """Each mapped partitioned table's leaf partitions, as (schema, name)."""
        names = [self.source.qualified(t) for t in self.tables]
        leaves: dict[str, set[tuple[str, str]]] = {t.id: set() for t in self.tables}
        for i, schema, name in self.source.fetch(_LEAVES, (names,)):
            leaves[self.tables[int(i) - 1].id].add((schema, name))
        return leaves

    def changes(self) -> SpooledChanges | None:
        """When a poll is due and the leaves changed: their rows as inserts and deletes."""
        if not self.tables or time.monotonic() < self._due:
            return None
        self._due = time.monotonic() + self.every
        now = self._leaves()
        if now == self.known:
            return None
        out = SpooledChanges()
        for table in self.tables:
            before, after = self.known[table.id], now[table.id]
            for leaf in sorted(after - before):
                for row in self._rows(table, leaf, "attached to"):
                    out.append(RowChange(table.id, "c", None, row))
            for leaf in sorted(before - after):
                for row in self._rows(table, leaf, "detached from"):
                    out.append(RowChange(table.id, "d", row, None))
        self.known = now
        return out

    def _rows(self, table: Table, leaf: tuple[str, str], moved: str) -> list[dict[str, Any]]:
        names = [c.name for c in table.columns]
        columns = ", ".join(self.source.quote(n) for n in names)
        relation = f"{self.source.quote(leaf[0])}.{self.source.quote(leaf[1])}"
        try:
            rows = self.source.fetch(f"SELECT {columns} FROM ONLY {relation}")
        except SourceError as exc:
            # Dropped (or detached and dropped): its rows cannot be known any more.
            raise SchemaChanged(
                f"partition {leaf[0]}.{leaf[1]} was {moved} mapped table {table.id} and cannot "
                f"be read ({exc}); the documents of its rows may be out of date: update the "
                "project (relmig import) and start a new job",
                [Drift(table.id, PARTITION_GONE, f"{leaf[0]}.{leaf[1]}")],
            ) from None
        return [dict(zip(names, row, strict=True)) for row in rows]
