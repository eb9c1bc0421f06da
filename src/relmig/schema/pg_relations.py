"""PostgreSQL relations that are not plain tables: partitioned tables, legacy inheritance,
unlogged tables.

A partition is a piece of its partitioned table, not a table of the project: it is left out at
import and listed on its table, which takes the primary key and the foreign keys its partitions
share when it declares none (pagila declares them per partition). A table with INHERITS children
is read and published with ONLY, so its children's rows are never copied into its collection nor
its children published without a replica identity. An unlogged table never reaches the WAL:
marked, and `relmig check` refuses CDC on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, Inspector

from relmig.project.model import ForeignKey, Table
from relmig.schema.reflected import foreign_key

_RELATIONS = sa.text(
    """
    SELECT c.relname, c.relkind = 'p', c.relispartition, c.relpersistence = 'u',
           ARRAY(SELECT ch.relname FROM pg_inherits i JOIN pg_class ch ON ch.oid = i.inhrelid
                 WHERE i.inhparent = c.oid AND NOT ch.relispartition ORDER BY 1),
           ARRAY(SELECT ch.relname FROM pg_inherits i JOIN pg_class ch ON ch.oid = i.inhrelid
                 WHERE i.inhparent = c.oid AND ch.relispartition ORDER BY 1)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = :schema AND c.relkind IN ('r', 'p')
    """
)


@dataclass(frozen=True, slots=True)
class Relation:
    partitioned: bool
    is_partition: bool
    unlogged: bool
    inherited_by: list[str] = field(default_factory=list)
    partitions: list[str] = field(default_factory=list)


def relations(engine: Engine, schema: str) -> dict[str, Relation]:
    """Table name → what the catalog says about it, for the schema's tables."""
    with engine.connect() as conn:
        rows = conn.execute(_RELATIONS, {"schema": schema}).all()
    return {
        name: Relation(bool(p), bool(part), bool(unlogged), list(kids), list(parts))
        for name, p, part, unlogged, kids, parts in rows
    }


def describe(table: Table, relation: Relation, inspector: Inspector) -> None:
    """Mark the table with what it is; a partitioned one without a key or foreign keys of its
    own takes those all its partitions declare."""
    table.partitioned = relation.partitioned
    table.partitions = relation.partitions
    table.inherited_by = relation.inherited_by
    table.unlogged = relation.unlogged
    if not (table.partitioned and relation.partitions):
        return
    where = {"schema": table.schema_, "filter_names": relation.partitions}
    if not table.primary_key:
        keys = {
            tuple(pk.get("constrained_columns") or ())
            for pk in inspector.get_multi_pk_constraint(**where).values()
        }
        if len(keys) == 1 and (shared := next(iter(keys))):
            table.primary_key = list(shared)
    if not table.foreign_keys:
        table.foreign_keys = _shared_foreign_keys(table, inspector.get_multi_foreign_keys(**where))


def _shared_foreign_keys(table: Table, per_partition: dict[Any, list[Any]]) -> list[ForeignKey]:
    """The foreign keys every partition declares (same columns, same referenced columns), named
    after the table: each partition's constraint has a name of its own."""

    def signature(fk: dict[str, Any]) -> tuple[Any, ...]:
        referred = (fk.get("referred_schema") or table.schema_, fk["referred_table"])
        return (tuple(fk["constrained_columns"]), referred, tuple(fk["referred_columns"]))

    if len(per_partition) < len(table.partitions):
        return []  # a partition declares none
    first, *rest = per_partition.values()
    common = [fk for fk in first if all(signature(fk) in map(signature, fks) for fks in rest)]
    return [foreign_key({**fk, "name": None}, table.schema_, table.name) for fk in common]
