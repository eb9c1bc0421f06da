"""Bringing a state database made by an older relmig up to the current tables."""

from __future__ import annotations

import sqlalchemy as sa


def add_missing_columns(engine: sa.Engine, metadata: sa.MetaData) -> None:
    """Columns and indexes added since a store file was created (additive changes only)."""
    inspector = sa.inspect(engine)
    for table in metadata.sorted_tables:
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                kind = column.type.compile(engine.dialect)
                default = column.default.arg if column.default is not None else None
                tail = f" NOT NULL DEFAULT {int(default)}" if default is not None else ""
                with engine.begin() as conn:
                    conn.execute(
                        sa.text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}{tail}")
                    )
        indexes = {i["name"] for i in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in indexes:
                index.create(engine, checkfirst=True)
