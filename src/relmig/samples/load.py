"""Load the sample database into PostgreSQL or MySQL/MariaDB.

Both loaders drop the sample tables (and the PostgreSQL enum type) if they exist, create
them from the dialect's script, which also writes the ``type_zoo`` rows, then insert the
rows of :func:`relmig.samples.generate.generate` and move each generated-key counter past
the largest loaded key. Running a loader again gives the same result. Only the sample
objects are touched; other tables in the schema or database are left alone.
"""

from __future__ import annotations

import re
from importlib import resources

import psycopg
import pymysql
from psycopg import sql

from relmig.samples.generate import DEFAULT_SEED, GENERATED_KEYS, generate

POSTGRES_SCRIPT = "northwind_postgres.sql"
MYSQL_SCRIPT = "northwind_mysql.sql"

# Strict mode for the generated rows, so that a bad value fails instead of being mangled
# (the MySQL script itself loosens the mode for the type_zoo edge rows).
_MYSQL_STRICT_MODE = (
    "STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,"
    "NO_ENGINE_SUBSTITUTION"
)


def read_script(name: str) -> str:
    """The text of one of the dialect scripts shipped in this package."""
    return resources.files("relmig.samples").joinpath(name).read_text(encoding="utf-8")


def split_statements(script: str) -> list[str]:
    """Split a sample script into statements.

    Relies on the scripts' conventions: comments are whole lines starting with ``--`` and
    every statement ends with ``;`` at the end of a line.
    """
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    statements = re.split(r";[ \t]*$", "\n".join(lines), flags=re.MULTILINE)
    return [statement.strip() for statement in statements if statement.strip()]


def load_postgres(
    dsn: str, *, scale: float = 1.0, schema: str = "public", seed: int = DEFAULT_SEED
) -> None:
    """Drop, recreate and fill the sample tables in ``schema`` of the database at ``dsn``.

    The schema is created if missing. Everything happens in one transaction, so a failed
    load leaves the previous state in place.
    """
    tables = generate(scale, seed)
    script = read_script(POSTGRES_SCRIPT)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        cur.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        cur.execute("SET LOCAL timezone TO 'UTC'")
        for statement in split_statements(script):
            cur.execute(statement)
        for table in tables:
            copy = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(schema, table.name),
                sql.SQL(", ").join(sql.Identifier(column) for column in table.columns),
            )
            with cur.copy(copy) as out:
                for row in table.rows:
                    out.write_row(row)
        for table_name, column in GENERATED_KEYS:
            qualified = sql.Identifier(schema, table_name)
            cur.execute(
                sql.SQL(
                    "SELECT setval(pg_get_serial_sequence(%s, %s),"
                    " coalesce((SELECT max({}) FROM {}), 0) + 1, false)"
                ).format(sql.Identifier(column), qualified),
                (qualified.as_string(conn), column),
            )


def load_mysql(
    host: str,
    port: int,
    user: str,
    password: str,
    database: str,
    *,
    scale: float = 1.0,
    seed: int = DEFAULT_SEED,
) -> None:
    """Drop, recreate and fill the sample tables in ``database`` (created if missing).

    MySQL commits DDL implicitly, so a failed load can leave the tables half filled;
    running the loader again repairs them.
    """
    tables = generate(scale, seed)
    script = read_script(MYSQL_SCRIPT)
    conn = pymysql.connect(
        host=host,
        port=int(port),
        user=user,
        password=password,
        charset="utf8mb4",
        autocommit=False,
    )
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"CREATE DATABASE IF NOT EXISTS {_mysql_name(database)} CHARACTER SET utf8mb4"
            )
            conn.select_db(database)
            cur.execute("SET time_zone = '+00:00'")
            for statement in split_statements(script):
                cur.execute(statement)
            cur.execute(f"SET SESSION sql_mode = '{_MYSQL_STRICT_MODE}'")
            for table in tables:
                if not table.rows:
                    continue
                columns = ", ".join(_mysql_name(column) for column in table.columns)
                placeholders = ", ".join(["%s"] * len(table.columns))
                cur.executemany(
                    f"INSERT INTO {_mysql_name(table.name)} ({columns}) VALUES ({placeholders})",
                    table.rows,
                )
        conn.commit()
    finally:
        conn.close()


def _mysql_name(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"
