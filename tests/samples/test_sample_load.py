"""Load the sample database into the real PostgreSQL and MariaDB and compare the two."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from decimal import Decimal

import psycopg
import pymysql
import pytest
from psycopg import sql

from relmig.samples.generate import TABLE_NAMES, generate, row_counts
from relmig.samples.load import load_mysql, load_postgres
from sharing import per_worker

pytestmark = pytest.mark.services

TEST_DB = per_worker("relmig_samples_test")
OTHER_SCHEMA = "sample_alt"

AWKWARD_COLUMNS = {
    "Customer Demographics": {"DemographicID", "DisplayName", "group", "it's", "größe", "prix_€"},
    "customers": {"PrimaryDemographicID"},
    "customer_demographic_links": {"DemographicID", "order", "SinceDate"},
}


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@pytest.fixture(scope="module")
def pg_settings() -> dict[str, str]:
    return {
        "host": _env("RELMIG_HOST", "127.0.0.1"),
        "port": _env("RELMIG_PG_PORT", "15432"),
        "user": _env("RELMIG_PG_USER", "relmig"),
        "password": _env("RELMIG_PG_PASSWORD", "relmig"),
        "dbname": _env("RELMIG_PG_DB", "relmig"),
    }


@pytest.fixture(scope="module")
def mysql_settings() -> dict[str, object]:
    return {
        "host": _env("RELMIG_HOST", "127.0.0.1"),
        "port": int(_env("RELMIG_MYSQL_PORT", "13306")),
        "user": _env("RELMIG_MYSQL_USER", "relmig"),
        "password": _env("RELMIG_MYSQL_PASSWORD", "relmig"),
    }


@pytest.fixture(scope="module")
def pg_dsn(pg_settings: dict[str, str], pg_admin_dsn: str) -> Iterator[str]:
    """A fresh database holding the sample, loaded twice (small, then full size)."""
    admin = psycopg.conninfo.make_conninfo(**pg_settings)
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(TEST_DB))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(drop)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEST_DB)))
    dsn = psycopg.conninfo.make_conninfo(admin, dbname=TEST_DB)
    try:
        load_postgres(dsn, scale=0.2)
        load_postgres(dsn)
        yield dsn
    finally:
        # As a superuser: FORCE ends every session in the database, another role's too (one
        # was there once, and the relmig role may not end it).
        with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
            conn.execute(drop)


@pytest.fixture(scope="module")
def mysql_conn(mysql_settings: dict[str, object]) -> Iterator[pymysql.connections.Connection]:
    """A connection to a fresh database holding the sample, loaded twice."""
    conn = pymysql.connect(**mysql_settings, charset="utf8mb4", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{TEST_DB}`")
        load_mysql(**mysql_settings, database=TEST_DB, scale=0.2)
        load_mysql(**mysql_settings, database=TEST_DB)
        conn.select_db(TEST_DB)
        with conn.cursor() as cur:
            cur.execute("SET time_zone = '+00:00'")
        yield conn
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{TEST_DB}`")
        conn.close()


def _pg_rows(dsn: str, query: sql.Composable | str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        conn.execute("SET timezone TO 'UTC'")
        return conn.execute(query, params).fetchall()


def _my_rows(conn: pymysql.connections.Connection, query: str, params: tuple = ()) -> list:
    with conn.cursor() as cur:
        cur.execute(query, params or None)
        return list(cur.fetchall())


def _pg_count(dsn: str, table: str, schema: str = "public") -> int:
    query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))
    return _pg_rows(dsn, query)[0][0]


def _my_count(conn: pymysql.connections.Connection, table: str) -> int:
    return _my_rows(conn, f"SELECT count(*) FROM `{table}`")[0][0]


def _normalize(value: object) -> object:
    # TINYINT(1) comes back from MySQL as 0/1, booleans from PostgreSQL as bool.
    if isinstance(value, bool):
        return int(value)
    return value


def test_row_counts_match_between_dialects(pg_dsn: str, mysql_conn) -> None:
    expected = row_counts()
    pg = {table: _pg_count(pg_dsn, table) for table in TABLE_NAMES}
    my = {table: _my_count(mysql_conn, table) for table in TABLE_NAMES}
    assert pg == my == expected
    assert expected["orders"] == 300
    assert 800 <= expected["order_details"] <= 1000


def test_generated_rows_are_identical_in_both_dialects(pg_dsn: str, mysql_conn) -> None:
    for table in generate():
        names = ", ".join(f'"{c}"' for c in table.columns)
        pg = _pg_rows(pg_dsn, f'SELECT {names} FROM "{table.name}" ORDER BY 1, 2')
        my_names = ", ".join(f"`{c}`" for c in table.columns)
        my = _my_rows(mysql_conn, f"SELECT {my_names} FROM `{table.name}` ORDER BY 1, 2")
        expected = sorted(table.rows, key=lambda row: (row[0], row[1]))
        for source in (pg, my):
            got = [tuple(_normalize(v) for v in row) for row in source]
            assert got == [tuple(_normalize(v) for v in row) for row in expected], table.name


def test_awkward_identifiers_exist(pg_dsn: str, mysql_conn) -> None:
    for table, columns in AWKWARD_COLUMNS.items():
        pg = _pg_rows(
            pg_dsn,
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name = %s",
            (table,),
        )
        my = _my_rows(
            mysql_conn,
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name = %s",
            (TEST_DB, table),
        )
        assert columns <= {row[0] for row in pg}, table
        assert columns <= {row[0] for row in my}, table
    # The awkward names are usable through the foreign keys that join them.
    query = (
        'SELECT count(*) FROM customer_demographic_links l JOIN "Customer Demographics" d'
        ' ON d."DemographicID" = l."DemographicID" WHERE d."it\'s" IS NOT NULL'
        ' AND d."größe" > 0 AND l."order" >= 1'
    )
    pg_count = _pg_rows(pg_dsn, query)[0][0]
    my_count = _my_rows(mysql_conn, query.replace('"', "`"))[0][0]
    assert pg_count == my_count > 0


def test_foreign_keys_are_declared(pg_dsn: str, mysql_conn) -> None:
    pg = _pg_rows(
        pg_dsn,
        "SELECT tc.table_name, tc.constraint_name, kcu.column_name, kcu.ordinal_position"
        " FROM information_schema.table_constraints tc"
        " JOIN information_schema.key_column_usage kcu"
        "   ON kcu.constraint_schema = tc.constraint_schema"
        "  AND kcu.constraint_name = tc.constraint_name"
        " WHERE tc.table_schema = 'public' AND tc.constraint_type = 'FOREIGN KEY'",
    )
    my = _my_rows(
        mysql_conn,
        "SELECT table_name, constraint_name, column_name, ordinal_position"
        " FROM information_schema.key_column_usage"
        " WHERE table_schema = %s AND referenced_table_name IS NOT NULL",
        (TEST_DB,),
    )
    pg_fks = {tuple(row) for row in pg}
    my_fks = {tuple(row) for row in my}
    assert pg_fks == my_fks
    assert ("order_detail_notes", "order_detail_notes_order_detail_fkey", "product_id", 2) in pg_fks
    assert {row[2] for row in pg_fks if row[0] == "orders"} == {
        "customer_id",
        "sold_by",
        "approved_by",
        "ship_via",
    }
    assert ("employees", "employees_reports_to_fkey", "reports_to", 1) in pg_fks


def test_unreferenced_rows_and_null_foreign_keys(pg_dsn: str, mysql_conn) -> None:
    checks = [
        "SELECT count(*) FROM products p WHERE NOT EXISTS"
        " (SELECT 1 FROM order_details d WHERE d.product_id = p.product_id)",
        "SELECT count(*) FROM customers c WHERE NOT EXISTS"
        " (SELECT 1 FROM orders o WHERE o.customer_id = c.customer_id)",
        "SELECT count(*) FROM orders WHERE approved_by IS NULL",
        "SELECT count(*) FROM orders WHERE ship_via IS NULL",
        "SELECT count(*) FROM employees WHERE reports_to IS NULL",
        "SELECT count(*) FROM products WHERE category_id IS NULL OR supplier_id IS NULL",
    ]
    for query in checks:
        pg = _pg_rows(pg_dsn, query)[0][0]
        assert pg == _my_rows(mysql_conn, query)[0][0] and pg > 0, query


def test_generated_keys_continue_after_loaded_rows(pg_dsn: str, mysql_conn) -> None:
    with psycopg.connect(pg_dsn) as conn:
        new_id = conn.execute(
            "INSERT INTO shippers (company_name) VALUES ('New Shipper') RETURNING shipper_id"
        ).fetchone()[0]
        conn.rollback()
    assert new_id == row_counts()["shippers"] + 1
    mysql_conn.begin()
    try:
        with mysql_conn.cursor() as cur:
            cur.execute("INSERT INTO shippers (company_name) VALUES ('New Shipper')")
            assert cur.lastrowid == row_counts()["shippers"] + 1
    finally:
        mysql_conn.rollback()


def test_type_zoo_postgres_edges(pg_dsn: str) -> None:
    rows = {
        row[0]: row[1:]
        for row in _pg_rows(
            pg_dsn,
            "SELECT id, is_edge, c_double, c_date::text, c_bigint, c_numeric::text,"
            " c_interval::text, c_int_array, c_enum::text FROM type_zoo",
        )
    }
    assert len(rows) == 17
    assert {i for i, row in rows.items() if not row[0]} == {1, 2, 3, 4, 5, 6}
    assert math.isnan(rows[11][1])
    assert rows[12][1] == math.inf and rows[13][1] == -math.inf
    assert rows[14][2] == "infinity" and rows[15][2] == "-infinity"
    assert rows[4][3] == -(2**63) and rows[5][3] == 2**63 - 1
    assert len(rows[6][4].replace(".", "")) == 34
    assert len(rows[7][4].replace(".", "")) > 34
    assert rows[17][5] == "178000000 years"
    assert rows[1][6] == [1, 2, 3] and rows[1][7] == "happy"
    assert all(value is None for value in rows[3][1:])


def test_type_zoo_mysql_edges(mysql_conn) -> None:
    rows = {
        row[0]: row[1:]
        for row in _my_rows(
            mysql_conn,
            "SELECT id, is_edge, CAST(c_date AS CHAR), c_bigint, c_ubigint,"
            " CAST(c_time AS CHAR), CAST(c_enum AS CHAR), c_numeric, c_bit FROM type_zoo",
        )
    }
    assert len(rows) == 17
    assert {i for i, row in rows.items() if not row[0]} == {1, 2, 3, 4, 5, 6}
    assert rows[11][1] == "0000-00-00" and rows[12][1] == "2023-00-00"
    assert rows[13][1] == "2023-02-30" and rows[8][1] == "0001-01-01"
    assert rows[4][2] == -(2**63) and rows[5][2] == 2**63 - 1
    assert rows[14][3] == 2**64 - 1
    assert rows[15][4] == "838:59:59.000000" and rows[16][4] == "-838:59:59.000000"
    assert rows[17][5] == ""
    assert rows[6][6] == Decimal("1234567890123456789012345678.901234")
    assert rows[1][7] == b"\xaa"


def test_load_into_another_schema_leaves_public_alone(pg_dsn: str) -> None:
    before = _pg_count(pg_dsn, "orders")
    load_postgres(pg_dsn, scale=0.1, schema=OTHER_SCHEMA)
    load_postgres(pg_dsn, scale=0.1, schema=OTHER_SCHEMA)
    counts = {table: _pg_count(pg_dsn, table, OTHER_SCHEMA) for table in TABLE_NAMES}
    assert counts == row_counts(0.1)
    assert _pg_count(pg_dsn, "orders") == before
    enum_schemas = _pg_rows(
        pg_dsn,
        "SELECT n.nspname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
        " WHERE t.typname = 'type_zoo_mood' ORDER BY 1",
    )
    assert [row[0] for row in enum_schemas] == ["public", OTHER_SCHEMA]
