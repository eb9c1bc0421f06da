"""PostgreSQL source: psycopg 3 for queries (the replication stream lives elsewhere)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import psycopg
from sqlalchemy.engine import URL

from relmig.project.model import Column, Table
from relmig.source import postgres_types
from relmig.source.sql import Row, SqlSource
from relmig.source.tls import libpq_settings
from relmig.source.values import Converter
from relmig.timeouts import Guard, client_timeout, deadline, query_timeout

# libpq settings of every connection to PostgreSQL, the replication connection's too: a bounded
# connect, and TCP keepalives (idle 30 s, then 3 probes 10 s apart) plus tcp_user_timeout, so
# that a peer that vanished (no ACK at all) is noticed in about a minute.
CONNECT_SETTINGS: dict[str, Any] = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 60_000,
}


class PostgresSource(SqlSource):
    default_port = 5432

    def _connect(self) -> psycopg.Connection[Any]:
        s = self.settings
        conn = psycopg.connect(
            host=s.host,
            port=self.port,
            dbname=s.database,
            user=s.user,
            password=self.password,
            autocommit=True,
            application_name="relmig",
            # The server cancels a statement past the query timeout; a stalled link is
            # caught by the client deadline (deadline), a dead peer also by TCP keepalives.
            options=f"-c statement_timeout={int(query_timeout() * 1000)}"
            + ("" if self.writable else " -c default_transaction_read_only=on"),
            **CONNECT_SETTINGS,
            **libpq_settings(s),
        )
        conn.execute("SET TIME ZONE 'UTC'")
        postgres_types.configure_connection(conn)
        return conn

    def relation(self, table: Table) -> str:
        """ONLY for a table with INHERITS children: they are other tables (mapped or not), and
        its publication covers it ONLY too, so the snapshot and CDC see the same rows. (ONLY on
        a partitioned table would read nothing: its rows are its partitions'.)"""
        qualified = self.qualified(table)
        return f"ONLY {qualified}" if table.inherited_by else qualified

    def _execute(self, cur: Any, sql: str, params: Sequence[Any]) -> None:
        """Always the extended query protocol, which takes one statement only: psycopg sends a
        statement without parameters as a simple query, where `1=1); DROP …; SELECT (1` in a
        filter would run. (A statement with parameters is extended already; one without is
        prepared, a round trip more, and rare: first pages, counts, catalog queries.)"""
        cur.execute(sql, params, prepare=None if params else True)

    def deadline(self, conn: Any) -> AbstractContextManager[Guard | None]:
        return deadline(conn.fileno(), client_timeout())

    @property
    def replication_address(self) -> tuple[str, int]:
        """Where the replication connection goes: replication_host/port, else host/port."""
        s = self.settings
        return s.replication_host or s.host, s.replication_port or self.port

    def _fetch_all(self, cur: Any) -> list[Row]:
        return postgres_types.fetch_all(cur)

    def _after_error(self) -> None:
        # Autocommit connections need nothing, but a broken one must be replaced.
        if self._conn is not None and self._conn.closed:
            self._conn = None

    def sqlalchemy_url(self) -> URL:
        s = self.settings
        return URL.create(
            "postgresql+psycopg",
            username=s.user,
            password=self.password,
            host=s.host,
            port=self.port,
            database=s.database,
            query=libpq_settings(s),
        )

    def estimate_rows(self, tables: Sequence[Table]) -> dict[str, int | None]:
        rows = self.fetch(
            "SELECT n.nspname || '.' || c.relname, c.reltuples::bigint FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname || '.' || c.relname = ANY(%s)",
            ([t.id for t in tables],),
        )
        # -1 means never vacuumed or analyzed: unknown, not empty.
        found = {table_id: int(n) for table_id, n in rows if n >= 0}
        return {t.id: found.get(t.id) for t in tables}

    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def select_expression(self, column: Column) -> str:
        return postgres_types.select_expression(column.type, self.quote(column.name))

    def converter_for(self, column: Column) -> Converter | None:
        return postgres_types.converter_for(column.type)

    def plain_values(self, column: Column, decimals: str) -> bool:
        return postgres_types.plain_values(column.type, decimals)

    def after_key(self, key_columns: Sequence[str], after: Row) -> tuple[str, list[Any]]:
        cols = ", ".join(self.quote(c) for c in key_columns)
        marks = ", ".join(["%s"] * len(key_columns))
        return f"({cols}) > ({marks})", list(after)

    def upto_key(self, key_columns: Sequence[str], upto: Row) -> tuple[str, list[Any]]:
        cols = ", ".join(self.quote(c) for c in key_columns)
        marks = ", ".join(["%s"] * len(key_columns))
        return f"({cols}) <= ({marks})", list(upto)

    def in_predicate(self, columns: Sequence[str], keys: Sequence[Row]) -> tuple[str, list[Any]]:
        # One array parameter keeps the statement text constant, so the plan is reused and
        # large key sets do not hit the 65535-parameter limit.
        if len(columns) == 1:
            return f"{self.quote(columns[0])} = ANY(%s)", [[k[0] for k in keys]]
        return super().in_predicate(columns, keys)
