"""The SQL side of a source: connections, identifier quoting and the queries every reader needs.

Each database gets a subclass (postgres.py, mysql.py). The document builder and the snapshot only
talk to this interface, as Debezium's engine talks to its connectors.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from relmig.errors import PrivilegeMissing, RelmigError, SchemaChanged, SourceError
from relmig.project.model import Column, SourceSettings, Table
from relmig.source.refusals import refusal
from relmig.source.values import Converter
from relmig.timeouts import QUERY_TIMEOUT, Guard, client_timeout

Row = tuple[Any, ...]


class SqlSource(ABC):
    """A live source database. One instance owns one DB-API connection, used by one thread."""

    default_port: int

    def __init__(
        self, settings: SourceSettings, password: str | None = None, *, writable: bool = False
    ) -> None:
        """A session is read-only unless `writable`: only the change capture's own objects
        (a publication, a heartbeat message) are ever written, never with a user's text."""
        self.settings = settings
        self.password = password if password is not None else os.environ.get(settings.password_env)
        self.writable = writable
        self._conn: Any = None

    # --- connection ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self.settings.port or self.default_port

    @property
    def where(self) -> str:
        s = self.settings
        return f"{s.dialect} source {s.user}@{s.host}:{self.port}/{s.database}"

    @property
    def conn(self) -> Any:
        if self._conn is None:
            try:
                self._conn = self._connect()
            except RelmigError:
                raise
            except Exception as exc:  # every driver has its own error tree
                what = f"cannot connect to the {self.where}"
                refused = refusal(exc, what, self.settings.password_env)
                raise refused or SourceError(f"{what}: {_first_line(exc)}") from None
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> SqlSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def _connect(self) -> Any: ...

    @abstractmethod
    def sqlalchemy_url(self) -> Any:
        """A SQLAlchemy URL for schema introspection (the inspector does that job well)."""

    def sqlalchemy_connect_args(self) -> dict[str, Any]:
        """Driver arguments the URL cannot carry, for that engine."""
        return {}

    # --- SQL text -----------------------------------------------------------------------------

    @abstractmethod
    def quote(self, name: str) -> str: ...

    def qualified(self, table: Table) -> str:
        return f"{self.quote(table.schema_)}.{self.quote(table.name)}"

    def relation(self, table: Table) -> str:
        """The table's rows in a FROM clause: its own only (PostgreSQL's inheritance aside)."""
        return self.qualified(table)

    @abstractmethod
    def select_expression(self, column: Column) -> str: ...

    @abstractmethod
    def converter_for(self, column: Column) -> Converter | None: ...

    @abstractmethod
    def plain_values(self, column: Column, decimals: str) -> bool:
        """Whether the column's document values are always of a kind every target stores as
        it is (ints within int64, booleans, dates, strings without NUL, bytes, UUIDs), with
        exact numbers stored as `decimals` ("decimal128", "string" or "double")."""

    @abstractmethod
    def after_key(self, key_columns: Sequence[str], after: Row) -> tuple[str, list[Any]]:
        """`key > after`, in the form the server answers from the primary key index."""

    @abstractmethod
    def upto_key(self, key_columns: Sequence[str], upto: Row) -> tuple[str, list[Any]]:
        """`key <= upto`, in the same form: the upper bound of a key range."""

    def in_predicate(self, columns: Sequence[str], keys: Sequence[Row]) -> tuple[str, list[Any]]:
        if len(columns) == 1:
            marks = ", ".join(["%s"] * len(keys))
            return f"{self.quote(columns[0])} IN ({marks})", [k[0] for k in keys]
        row = "(" + ", ".join(["%s"] * len(columns)) + ")"
        lhs = "(" + ", ".join(self.quote(c) for c in columns) + ")"
        params = [v for k in keys for v in k]
        return f"{lhs} IN ({', '.join([row] * len(keys))})", params

    # --- queries ------------------------------------------------------------------------------

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._run(sql, params, rows=True)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """A statement that returns no rows (DDL, slot management)."""
        self._run(sql, params, rows=False)

    def _run(self, sql: str, params: Sequence[Any], *, rows: bool) -> list[Row]:
        conn = self.conn
        guard = None
        try:
            with self.deadline(conn) as guard, conn.cursor() as cur:
                self._execute(cur, sql, params)
                return self._fetch_all(cur) if rows else []
        except SourceError:
            raise
        except Exception as exc:
            self._after_error()
            if guard is not None and guard.fired:
                raise SourceError(
                    f"no answer from the {self.where} within {client_timeout():.0f} s: the "
                    f"connection stalled (or a statement ran past {QUERY_TIMEOUT})"
                ) from None
            if _privilege_refused(exc):
                raise PrivilegeMissing(
                    f"the {self.where} refused a statement: {_first_line(exc)}"
                ) from None
            if _schema_gone(exc):
                raise SchemaChanged(
                    f"query failed on the {self.where}: {_first_line(exc)}: a column or table "
                    "of the mapping is gone (DDL at the source)"
                ) from None
            raise SourceError(f"query failed on the {self.where}: {_first_line(exc)}") from None

    def _execute(self, cur: Any, sql: str, params: Sequence[Any]) -> None:
        cur.execute(sql, params)

    def deadline(self, conn: Any) -> AbstractContextManager[Guard | None]:
        """A client-side deadline for one statement, where the driver has no socket timeout."""
        return nullcontext()

    def _fetch_all(self, cur: Any) -> list[Row]:
        return list(cur.fetchall())

    def _after_error(self) -> None:  # noqa: B027 - optional hook, most drivers need nothing
        """Leave the connection usable after a failed statement."""

    def scan_page(
        self,
        table: Table,
        select: str,
        key_columns: Sequence[str],
        after: Row | None,
        limit: int,
        where: str | None = None,
        upto: Row | None = None,
    ) -> list[Row]:
        """One keyset page: rows after `after` (and up to `upto`) in key order. Memory is
        bounded by `limit`."""
        conditions = [f"({user_text(where)})"] if where else []
        params: list[Any] = []
        for bound, predicate_of in ((after, self.after_key), (upto, self.upto_key)):
            if bound is not None:
                predicate, values = predicate_of(key_columns, bound)
                conditions.append(predicate)
                params += values
        order = ", ".join(self.quote(c) for c in key_columns)
        sql = f"SELECT {select} FROM {self.relation(table)}"
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        sql += f" ORDER BY {order} LIMIT {int(limit)}"
        return self.fetch(sql, params)

    def rows_matching(
        self,
        table: Table,
        select: str,
        columns: Sequence[str],
        keys: Sequence[Row],
        where: str | None = None,
    ) -> list[Row]:
        """Rows whose `columns` equal one of `keys`: the batched lookup behind every embedding."""
        if not keys:
            return []
        predicate, params = self.in_predicate(columns, keys)
        sql = f"SELECT {select} FROM {self.relation(table)} WHERE {predicate}"
        if where:
            sql += f" AND ({user_text(where)})"
        return self.fetch(sql, params)

    def key_tiles(self, table: Table, tiles: int, where: str | None = None) -> list[Row]:
        """Where the table splits into `tiles` slices of equal row counts, in key order: the
        last key of every slice but the last, as a page's rows carry it (fewer for a table of
        fewer rows). One ordered scan of the primary key, so skewed and composite keys split
        as evenly as unique ones."""
        key = table.primary_key
        exprs = [self.select_expression(table.column(c)) for c in key]
        picked = [f"k{i}" for i in range(len(key))]
        order = [f"o{i}" for i in range(len(key))]
        inner = ", ".join(
            [f"{e} AS k{i}" for i, e in enumerate(exprs)]
            + [f"{self.quote(c)} AS o{i}" for i, c in enumerate(key)]
        )
        by = ", ".join(self.quote(c) for c in key)
        sql = (
            f"SELECT {inner}, NTILE({int(tiles)}) OVER (ORDER BY {by}) AS tile "
            f"FROM {self.relation(table)}"
        )
        if where:
            sql += f" WHERE ({user_text(where)})"
        cols = ", ".join([*picked, *order])
        sql = (
            f"SELECT {', '.join(picked)} FROM (SELECT {cols}, tile, LEAD(tile) OVER "
            f"(ORDER BY {', '.join(order)}) AS next_tile FROM ({sql}) a) b "
            f"WHERE next_tile <> tile ORDER BY {', '.join(order)}"
        )
        return self.fetch(sql)

    @abstractmethod
    def estimate_rows(self, tables: Sequence[Table]) -> dict[str, int | None]:
        """The catalog's row estimate of each table (for progress only), by table id, in one
        query for all of them; None when the catalog has none."""

    def count(self, table: Table, where: str | None = None) -> int:
        sql = f"SELECT COUNT(*) FROM {self.relation(table)}"
        if where:
            sql += f" WHERE ({user_text(where)})"
        return int(self.fetch(sql)[0][0])


def user_text(sql: str) -> str:
    """A user's SQL (a snapshot filter, checked by `relmig.project.filters`) inside a statement
    that the driver formats with parameters: a literal % is written %%."""
    return sql.replace("%", "%%")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _privilege_refused(exc: BaseException) -> bool:
    """PostgreSQL's insufficient_privilege; MariaDB's access denied to a database (1044), a
    table (1142) or a column (1143), or a privilege it needs (1227)."""
    if getattr(exc, "sqlstate", None) == "42501":
        return True
    args = getattr(exc, "args", ())
    return bool(args) and args[0] in (1044, 1142, 1143, 1227)


def _schema_gone(exc: BaseException) -> bool:
    """A mapped column or table missing: PostgreSQL's undefined column or table, MariaDB's
    unknown column (1054) or missing table (1146)."""
    if getattr(exc, "sqlstate", None) in ("42703", "42P01"):
        return True
    args = getattr(exc, "args", ())
    return bool(args) and args[0] in (1054, 1146)
