"""The source is only read (issue 29 §1), tried as a hostile user would against the real servers.

Every session relmig opens for reading is read-only on the server, and on PostgreSQL every
statement takes the extended protocol, which refuses a second statement. So a snapshot filter
that slipped past the project validator (tests/unit/test_filters.py, and the API test of
filters) still could not write: no row, no sequence step, no dropped table.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pymysql
import pytest

from relmig.errors import SourceError
from relmig.project.model import Column, SourceSettings, Table
from relmig.source.connect import open_source

pytestmark = pytest.mark.services


@pytest.fixture
def pg_table(pg_dsn: str) -> Iterator[str]:
    name = f"relmig_ro_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {name} (id int PRIMARY KEY)")
        conn.execute(f"CREATE SEQUENCE {name}_seq")
        conn.execute(f"INSERT INTO {name} VALUES (1)")
    yield name
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {name}")
        conn.execute(f"DROP SEQUENCE IF EXISTS {name}_seq")


@pytest.fixture
def my_table(mysql_params: dict) -> Iterator[str]:
    name = f"relmig_ro_{uuid.uuid4().hex[:8]}"
    conn = pymysql.connect(**mysql_params, autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {name} (id INT PRIMARY KEY)")
        cur.execute(f"INSERT INTO {name} VALUES (1)")
    yield name
    with conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {name}")
    conn.close()


def _table(schema: str, name: str) -> Table:
    return Table(
        schema=schema, name=name, columns=[Column(name="id", type="int")], primary_key=["id"]
    )


def test_a_postgres_source_session_cannot_write(services_settings, pg_dsn, pg_table) -> None:
    s = services_settings
    settings = SourceSettings(
        dialect="postgresql",
        host=s["RELMIG_HOST"],
        port=int(s["RELMIG_PG_PORT"]),
        database=s["RELMIG_PG_DB"],
        user=s["RELMIG_PG_USER"],
        schemas=["public"],
    )
    table = _table("public", pg_table)
    with open_source(settings, s["RELMIG_PG_PASSWORD"]) as source:
        with pytest.raises(SourceError, match="read-only transaction"):
            source.fetch(f"SELECT nextval('{pg_table}_seq')")
        with pytest.raises(SourceError, match="read-only transaction"):
            source.fetch(f"INSERT INTO {pg_table} VALUES (2) RETURNING id")
        with pytest.raises(SourceError, match="multiple commands"):
            source.fetch(f"SELECT 1; DROP TABLE {pg_table}")
        # The filter attack that used to run: its text closes the WHERE and adds statements.
        attack = f"1=1); INSERT INTO {pg_table} VALUES (3); DROP TABLE {pg_table}; SELECT (1"
        for run in (
            lambda: source.count(table, attack),
            lambda: source.scan_page(table, "id", ["id"], None, 10, attack),
            lambda: source.key_tiles(table, 2, attack),
        ):
            with pytest.raises(SourceError):
                run()
        assert source.count(table) == 1  # the session still reads
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute(f"SELECT array_agg(id) FROM {pg_table}").fetchone() == ([1],)
        assert conn.execute(f"SELECT is_called FROM {pg_table}_seq").fetchone() == (False,)


def test_a_mariadb_source_session_cannot_write(services_settings, mysql_params, my_table) -> None:
    s = services_settings
    database = mysql_params["database"]
    settings = SourceSettings(
        dialect="mysql",
        host=s["RELMIG_HOST"],
        port=int(s["RELMIG_MYSQL_PORT"]),
        database=database,
        user=s["RELMIG_MYSQL_USER"],
        schemas=[database],
    )
    table = _table(database, my_table)
    with open_source(settings, s["RELMIG_MYSQL_PASSWORD"]) as source:
        with pytest.raises(SourceError, match="READ ONLY transaction"):
            source.fetch(f"INSERT INTO {my_table} VALUES (2)")
        with pytest.raises(SourceError, match="READ ONLY transaction"):
            source.fetch(f"DELETE FROM {my_table}")
        attack = f"1=1); DELETE FROM {my_table}; SELECT (1"
        with pytest.raises(SourceError):
            source.count(table, attack)
        assert source.count(table) == 1
    conn = pymysql.connect(**mysql_params)
    with conn.cursor() as cur:
        cur.execute(f"SELECT id FROM {my_table}")
        assert cur.fetchall() == ((1,),)
    conn.close()
