"""Relational model from a live database, through SQLAlchemy's inspector.

The inspector already knows each dialect's catalog queries; we only add what it lacks: row
estimates and, on MariaDB, which LONGTEXT columns are really JSON.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, Inspector

from relmig.errors import SourceError
from relmig.project.model import Column, Index, SourceSettings, Table
from relmig.schema import pg_relations
from relmig.schema.reflected import foreign_key
from relmig.source.connect import open_source
from relmig.source.refusals import refusal
from relmig.source.sql import SqlSource
from relmig.timeouts import Guard, client_timeout


def import_tables(
    settings: SourceSettings, password: str | None = None, only: Iterable[str] | None = None
) -> list[Table]:
    """Every base table of the configured schemas (or `only` these `schema.table` ids)."""
    source = open_source(settings, password)
    # Autocommit: the catalog is only read, and a connection closed after its statements
    # then sends no ROLLBACK, which no statement deadline covers (a stalled link held a
    # running job's drift check there for two minutes).
    engine = sa.create_engine(
        source.sqlalchemy_url(),
        connect_args={"connect_timeout": 10, **source.sqlalchemy_connect_args()},
        isolation_level="AUTOCOMMIT",
    )
    guards = _bounded_statements(engine, source)
    try:
        return _read(engine, settings, set(only) if only is not None else None)
    except sa.exc.SQLAlchemyError as exc:
        cause = exc.orig if getattr(exc, "orig", None) else exc
        what = f"cannot read the schema of the {source.where}"
        if any(g.fired for g in guards):
            raise SourceError(
                f"{what}: no answer within {client_timeout():.0f} s: the connection stalled"
            ) from None
        raise refusal(cause, what, settings.password_env) or SourceError(
            f"{what}: {str(cause).splitlines()[0]}"
        ) from None
    finally:
        engine.dispose()


def _bounded_statements(engine: Engine, source: SqlSource) -> list[Guard]:
    """Each catalog statement under the source's client deadline, as its queries are: the
    catalog is read on a running job's path too (schema drift at each stream start), where a
    stalled link must end the read, not block the job for ever. Returns the guards used, to
    tell a stall from another error."""
    guards: list[Guard] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def start(conn: Any, cursor: Any, statement: Any, params: Any, context: Any, many: Any) -> None:
        bound = source.deadline(conn.connection.dbapi_connection)
        guard = bound.__enter__()
        if guard is not None:
            guards.append(guard)
        conn.info["relmig_deadline"] = bound

    def end(conn: Any) -> None:
        bound = conn.info.pop("relmig_deadline", None)
        if bound is not None:
            bound.__exit__(None, None, None)

    @sa.event.listens_for(engine, "after_cursor_execute")
    def done(conn: Any, cursor: Any, statement: Any, params: Any, context: Any, many: Any) -> None:
        end(conn)

    @sa.event.listens_for(engine, "handle_error")
    def failed(context: Any) -> None:
        if context.connection is not None:
            end(context.connection)

    return guards


def _read(engine: Engine, settings: SourceSettings, wanted: set[str] | None) -> list[Table]:
    inspector = sa.inspect(engine)
    schemas = settings.schemas or [_default_schema(inspector, settings)]
    tables = []
    for schema in schemas:
        kinds = pg_relations.relations(engine, schema) if settings.dialect == "postgresql" else {}
        names = [
            name
            for name in sorted(inspector.get_table_names(schema=schema))
            if (wanted is None or f"{schema}.{name}" in wanted)
            # a partition is part of its table, not a table of its own
            and not (name in kinds and kinds[name].is_partition)
        ]
        catalog = _Catalog.read(inspector, schema, names)
        for name in names:
            table = _table(catalog, engine, schema, name)
            if name in kinds:
                pg_relations.describe(table, kinds[name], inspector)
            tables.append(table)
    # A foreign key to a table left out (or in another schema) links nothing here.
    chosen = {t.id for t in tables}
    for table in tables:
        table.foreign_keys = [fk for fk in table.foreign_keys if fk.ref_table in chosen]
    _attach_estimates(engine, settings, tables)
    _name_unknown_types(engine, settings, tables)
    if settings.dialect == "mysql":
        _mark_mariadb_json(engine, tables)
    return tables


def _default_schema(inspector: Inspector, settings: SourceSettings) -> str:
    return inspector.default_schema_name or settings.database


@dataclass(frozen=True, slots=True)
class _Catalog:
    """A schema's tables as the catalog describes them, read for all of them at once: on
    PostgreSQL a few queries whatever the table count (one per kind of object), where reading
    table by table took 10 s for a thousand tables. (SQLAlchemy's MySQL dialect still reads
    each table's SHOW CREATE TABLE, once.)"""

    columns: dict[Any, list[Any]]
    pks: dict[Any, Any]
    fks: dict[Any, list[Any]]
    uniques: dict[Any, list[Any]]
    indexes: dict[Any, list[Any]]

    @classmethod
    def read(cls, inspector: Inspector, schema: str, names: list[str]) -> _Catalog:
        if not names:
            return cls({}, {}, {}, {}, {})
        where = {"schema": schema, "filter_names": names}
        return cls(
            inspector.get_multi_columns(**where),
            inspector.get_multi_pk_constraint(**where),
            inspector.get_multi_foreign_keys(**where),
            inspector.get_multi_unique_constraints(**where),
            inspector.get_multi_indexes(**where),
        )


def _table(catalog: _Catalog, engine: Engine, schema: str, name: str) -> Table:
    key = (schema, name)
    columns = [
        Column(
            name=col["name"],
            type=_type_name(col["type"], engine),
            nullable=bool(col.get("nullable", True)),
            default=None if col.get("default") is None else str(col["default"]),
            generated="computed" in col,  # stored or virtual (PostgreSQL 18, MariaDB)
        )
        for col in catalog.columns.get(key, [])
    ]
    pk = (catalog.pks.get(key) or {}).get("constrained_columns") or []
    fks = [foreign_key(fk, schema, name) for fk in catalog.fks.get(key, [])]
    indexes: list[Index] = []
    seen: set[str] = set()
    partial: set[str] = set()
    for uc in catalog.uniques.get(key, []):
        indexes.append(Index(name=uc["name"], columns=uc["column_names"], unique=True))
        seen.add(uc["name"])
    for ix in catalog.indexes.get(key, []):
        if (ix.get("dialect_options") or {}).get("postgresql_where") is not None:
            partial.add(ix["name"])
        if ix["name"] in seen or any(c is None for c in ix["column_names"]):
            continue  # expression indexes cannot be mapped to fields
        indexes.append(
            Index(name=ix["name"], columns=list(ix["column_names"]), unique=bool(ix["unique"]))
        )
    key_index = None
    if not pk:
        # A unique index over NOT NULL columns is as good a key (legacy schemas have many);
        # the narrowest one, by name between equals.
        nullable = {c.name for c in columns if c.nullable}
        keys = [
            i
            for i in indexes
            if i.unique and i.name not in partial and not nullable.intersection(i.columns)
        ]
        if keys:
            best = min(keys, key=lambda i: (len(i.columns), i.name))
            pk, key_index = list(best.columns), best.name
    return Table(
        schema=schema,
        name=name,
        columns=columns,
        primary_key=pk,
        key_index=key_index,
        foreign_keys=fks,
        indexes=indexes,
    )


UNKNOWN_TYPE = "?"


def _type_name(type_: sa.types.TypeEngine[object], engine: Engine) -> str:
    if isinstance(type_, sa.types.NullType):
        return UNKNOWN_TYPE  # filled in from the catalog by _name_unknown_types
    try:
        return str(type_.compile(dialect=engine.dialect)).lower()
    except sa.exc.CompileError:
        return UNKNOWN_TYPE


def _name_unknown_types(engine: Engine, settings: SourceSettings, tables: list[Table]) -> None:
    """Types SQLAlchemy does not know (xml, point, inet4…) take the catalog's own name."""
    unknown = [(t, c) for t in tables for c in t.columns if c.type == UNKNOWN_TYPE]
    if not unknown:
        return
    name = "udt_name" if settings.dialect == "postgresql" else "column_type"
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                f"SELECT table_schema, table_name, column_name, {name} "
                "FROM information_schema.columns"
            )
        ).all()
    catalog = {(r[0], r[1], r[2]): str(r[3]).lower() for r in rows}
    for table, col in unknown:
        col.type = catalog.get((table.schema_, table.name, col.name), "unknown")


def _attach_estimates(engine: Engine, settings: SourceSettings, tables: list[Table]) -> None:
    if not tables:
        return
    with engine.connect() as conn:
        if settings.dialect == "postgresql":
            rows = conn.execute(
                sa.text(
                    "SELECT n.nspname, c.relname, c.reltuples::bigint FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p')"
                )
            )
        else:
            rows = conn.execute(
                sa.text(
                    "SELECT table_schema, table_name, table_rows FROM information_schema.tables "
                    "WHERE table_type = 'BASE TABLE'"
                )
            )
        estimates = {(r[0], r[1]): r[2] for r in rows}
    for table in tables:
        estimate = estimates.get((table.schema_, table.name))
        # PostgreSQL reports -1 for a table never vacuumed or analyzed: unknown, not empty.
        table.estimated_rows = None if estimate is None or estimate < 0 else int(estimate)


def _mark_mariadb_json(engine: Engine, tables: list[Table]) -> None:
    """MariaDB's JSON is LONGTEXT with a json_valid() check; report it as json."""
    with engine.connect() as conn:
        try:
            rows = conn.execute(
                sa.text(
                    "SELECT constraint_schema, table_name, check_clause "
                    "FROM information_schema.check_constraints"
                )
            ).all()
        except sa.exc.SQLAlchemyError:
            return  # MySQL proper has a native JSON type and no such checks to read
    by_table = {t.id: t for t in tables}
    for schema, table_name, clause in rows:
        table = by_table.get(f"{schema}.{table_name}")
        if table is None or not clause.lower().startswith("json_valid("):
            continue
        column = clause[len("json_valid(") : -1].strip("`")
        for col in table.columns:
            if col.name == column:
                col.type = "json"
