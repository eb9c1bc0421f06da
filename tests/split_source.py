"""A source built to be split into key ranges (the parallel snapshot's tests): skewed and
composite keys, an embedded child, an empty table and a table of one row, in PostgreSQL or in
MariaDB. Imported by name (tests/ is on sys.path through its conftest).

- `accounts`: 2,400 rows, ids 1..2390 and ten ids near 10^12 (a range split by key width
  would put nearly every row in one range); `entries` (key (account_id, seq), 1,200 rows under
  account 1) is embedded in it as an array by the recommended mapping.
- `ledger`: a composite key (region, n) whose rows sit almost all under one region; the
  regions' case makes the server's collation order differ from byte order.
- `nothing` (no rows) and `lonely` (one row).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
import pymysql

from relmig.project.initial import initial_collections
from relmig.project.model import Project, SourceSettings
from relmig.schema.introspect import import_tables
from sharing import per_worker

DB = per_worker("relmig_t_parallel")
ACCOUNTS = 2400
HUGE = 10  # accounts with ids near 10^12
REGIONS = {"Eu": 1500, "US": 5, "apac": 3, "b": 1}

SCHEMA = [
    "CREATE TABLE accounts (id BIGINT PRIMARY KEY, name VARCHAR(40) NOT NULL, "
    "balance NUMERIC(12,2))",
    "CREATE TABLE entries (account_id BIGINT NOT NULL REFERENCES accounts(id), seq INT NOT NULL, "
    "label VARCHAR(20) NOT NULL, amount INT, PRIMARY KEY (account_id, seq))",
    "CREATE TABLE ledger (region VARCHAR(8) NOT NULL, n INT NOT NULL, note VARCHAR(30), "
    "PRIMARY KEY (region, n))",
    "CREATE TABLE nothing (id INT PRIMARY KEY, v VARCHAR(5))",
    "CREATE TABLE lonely (id INT PRIMARY KEY, v VARCHAR(5))",
]


def _rows() -> dict[str, list[tuple]]:
    ids = list(range(1, ACCOUNTS - HUGE + 1)) + [10**12 + i * 10**9 for i in range(HUGE)]
    entries = [(1, s, f"e{s}", s % 97) for s in range(1, 1201)]
    entries += [(a, s, f"x{a}.{s}", a * s % 13) for a in range(2, 401) for s in (1, 2)]
    ledger = [(r, n, f"{r}-{n}") for r, count in REGIONS.items() for n in range(1, count + 1)]
    return {
        "accounts": [(i, f"account {i}", f"{i % 1000}.{i % 100:02d}") for i in ids],
        "entries": entries,
        "ledger": ledger,
        "lonely": [(7, "one")],
    }


@dataclass
class SplitSource:
    dialect: str
    settings: SourceSettings
    admin: dict

    def project(self) -> Project:
        tables = import_tables(self.settings)
        return Project(
            name="parallel",
            source=self.settings,
            tables=tables,
            collections=initial_collections(tables, "recommended"),
        )

    def account_ids(self) -> list[int]:
        return [row[0] for row in _rows()["accounts"]]

    def execute(self, sql: str, params: tuple = ()) -> None:
        if self.dialect == "postgresql":
            with psycopg.connect(**self.admin, dbname=DB, autocommit=True) as conn:
                conn.execute(sql, params)
        else:
            conn = pymysql.connect(**self.admin, database=DB, autocommit=True)
            try:
                with conn.cursor() as cur:
                    cur.execute(sql, params)
            finally:
                conn.close()


def _load_postgres(admin: dict, admin_db: str) -> None:
    with psycopg.connect(**admin, dbname=admin_db, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")
    with psycopg.connect(**admin, dbname=DB, autocommit=True) as conn:
        for statement in SCHEMA:
            conn.execute(statement)
        with conn.cursor() as cur:
            for table, rows in _rows().items():
                marks = ", ".join(["%s"] * len(rows[0]))
                cur.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        conn.execute("ANALYZE")


def _load_mysql(admin: dict) -> None:
    conn = pymysql.connect(**admin, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {DB}")
            cur.execute(f"CREATE DATABASE {DB} CHARACTER SET utf8mb4")
            cur.execute(f"USE {DB}")
            for statement in SCHEMA:
                cur.execute(statement)
            for table, rows in _rows().items():
                marks = ", ".join(["%s"] * len(rows[0]))
                cur.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
            for table in ("accounts", "entries", "ledger", "nothing", "lonely"):
                cur.execute(f"ANALYZE TABLE {table}")
                cur.fetchall()
    finally:
        conn.close()


def make_split_source(dialect: str, services_settings: dict[str, str]) -> SplitSource:
    """Load the database afresh in the dialect's server; the source over it."""
    s = services_settings
    host = s["RELMIG_HOST"]
    if dialect == "postgresql":
        admin = dict(
            host=host,
            port=int(s["RELMIG_PG_PORT"]),
            user=s["RELMIG_PG_USER"],
            password=s["RELMIG_PG_PASSWORD"],
        )
        _load_postgres(admin, s["RELMIG_PG_DB"])
        env, schema = "RELMIG_TEST_PG_PASSWORD", "public"
    else:
        admin = dict(
            host=host,
            port=int(s["RELMIG_MYSQL_PORT"]),
            user=s["RELMIG_MYSQL_USER"],
            password=s["RELMIG_MYSQL_PASSWORD"],
        )
        _load_mysql(admin)
        env, schema = "RELMIG_TEST_MYSQL_PASSWORD", DB
    settings = SourceSettings(
        dialect=dialect,
        host=host,
        port=admin["port"],
        database=DB,
        user=admin["user"],
        password_env=env,
        schemas=[schema],
    )
    return SplitSource(dialect, settings, admin)
