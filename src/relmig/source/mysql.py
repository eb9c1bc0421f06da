"""MySQL / MariaDB source: PyMySQL for queries (the binlog reader lives elsewhere)."""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from typing import Any

import pymysql
from sqlalchemy.engine import URL

from relmig.project.model import Column, SourceSettings, Table
from relmig.source import mysql_types
from relmig.source.sql import Row, SqlSource
from relmig.source.tls import pymysql_settings, unverified_context
from relmig.source.values import Converter
from relmig.timeouts import client_timeout, query_timeout


class _RefuseClearText:
    """PyMySQL's handler for mysql_clear_password, consulted before its own: a server (or a
    look-alike at a changed address) that asks for the password in clear text gets nothing."""

    def __init__(self, _connection: Any) -> None:
        pass

    def authenticate(self, _packet: Any) -> bytes:
        raise pymysql.err.OperationalError(
            2059,
            "the server asked for the password in clear text (mysql_clear_password): refused; "
            "set allow_cleartext_password under source: to allow it",
        )


# PyMySQL's "preferred" TLS (its default) checks nothing, so one context serves every connection.
_PREFERRED = unverified_context()


class Connection(pymysql.connections.Connection):
    """PyMySQL's connection, sharing one context for its default TLS: PyMySQL makes a default
    context per connection, loading the system's CA store (~30 ms, 60 times the rest of a
    connect) only to check nothing with it."""

    def _create_ssl_ctx(self, sslp: Any) -> ssl.SSLContext:
        if isinstance(sslp, dict) and not sslp:
            return _PREFERRED
        return super()._create_ssl_ctx(sslp)  # type: ignore[no-any-return]


def security_settings(settings: SourceSettings) -> dict[str, Any]:
    """What every MySQL connection passes to PyMySQL (the binlog reader's included): TLS, and
    the refusal of a clear-text password unless allowed."""
    refuse = {"auth_plugin_map": {"mysql_clear_password": _RefuseClearText}}
    return pymysql_settings(settings.tls) | ({} if settings.allow_cleartext_password else refuse)


class MySqlSource(SqlSource):
    default_port = 3306

    def _connect(self) -> pymysql.connections.Connection:
        conn = Connection(**self._connect_kwargs())
        # The server stops a statement past the query timeout (MariaDB: max_statement_time,
        # MySQL: max_execution_time, SELECT only); PyMySQL's socket timeouts catch a stalled
        # link a grace later.
        limit = query_timeout()
        with conn.cursor() as cur:
            if "mariadb" in conn.get_server_info().lower():
                cur.execute(f"SET SESSION max_statement_time = {limit:.3f}")
            else:
                cur.execute(f"SET SESSION max_execution_time = {int(limit * 1000)}")
            if not self.writable:
                cur.execute("SET SESSION TRANSACTION READ ONLY")
        return conn

    def _connect_kwargs(self) -> dict[str, Any]:
        s = self.settings
        return security_settings(s) | {
            "host": s.host,
            "port": self.port,
            "user": s.user,
            "password": self.password or "",
            "database": s.database,
            "autocommit": True,
            "connect_timeout": 10,
            "read_timeout": client_timeout(),
            "write_timeout": client_timeout(),
            "charset": "utf8mb4",
            "init_command": "SET time_zone = '+00:00'",
        }

    def _after_error(self) -> None:
        # PyMySQL closes a connection it lost (a reset, a timeout); the next query reconnects.
        if self._conn is not None and not self._conn.open:
            self._conn = None

    def sqlalchemy_connect_args(self) -> dict[str, Any]:
        # The catalog read is on a running job's path too (schema drift at each stream start):
        # a stalled link must end it like any query's, not block it for ever.
        timeouts = {"read_timeout": client_timeout(), "write_timeout": client_timeout()}
        return security_settings(self.settings) | timeouts

    def sqlalchemy_url(self) -> URL:
        s = self.settings
        return URL.create(
            "mysql+pymysql",
            username=s.user,
            password=self.password,
            host=s.host,
            port=self.port,
            database=s.database,
            query={"charset": "utf8mb4"},
        )

    def estimate_rows(self, tables: Sequence[Table]) -> dict[str, int | None]:
        schemas = sorted({t.schema_ for t in tables})
        rows = (
            self.fetch(
                "SELECT table_schema, table_name, table_rows FROM information_schema.tables "
                f"WHERE table_schema IN ({', '.join(['%s'] * len(schemas))})",
                schemas,
            )
            if schemas
            else []
        )
        found = {f"{schema}.{name}": int(n) for schema, name, n in rows if n is not None}
        return {t.id: found.get(t.id) for t in tables}

    def quote(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def select_expression(self, column: Column) -> str:
        return mysql_types.select_expression(column.type, self.quote(column.name))

    def converter_for(self, column: Column) -> Converter | None:
        return mysql_types.converter_for(column.type)

    def plain_values(self, column: Column, decimals: str) -> bool:
        return mysql_types.plain_values(column.type, decimals)

    def after_key(self, key_columns: Sequence[str], after: Row) -> tuple[str, list[Any]]:
        return self._expanded(key_columns, after, ">", ">")

    def upto_key(self, key_columns: Sequence[str], upto: Row) -> tuple[str, list[Any]]:
        return self._expanded(key_columns, upto, "<", "<=")

    def _expanded(
        self, key_columns: Sequence[str], key: Row, before_last: str, last: str
    ) -> tuple[str, list[Any]]:
        # Expanded form: (a > x) OR (a = x AND b > y) …, which MariaDB turns into index ranges;
        # it does not reliably do that for a row-constructor comparison.
        terms: list[str] = []
        params: list[Any] = []
        for i, col in enumerate(key_columns):
            op = last if i == len(key_columns) - 1 else before_last
            eq = [f"{self.quote(c)} = %s" for c in key_columns[:i]]
            terms.append("(" + " AND ".join([*eq, f"{self.quote(col)} {op} %s"]) + ")")
            params.extend(key[: i + 1])
        return "(" + " OR ".join(terms) + ")", params
