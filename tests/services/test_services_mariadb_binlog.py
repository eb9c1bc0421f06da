"""A MariaDB binlog stream resumed from a saved GTID sees the later changes and not the earlier."""

from __future__ import annotations

import random
import time
import uuid

import pymysql
import pytest
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

pytestmark = [
    pytest.mark.services,
    # mysql-replication itself passes the deprecated 'db' to PyMySQL.
    pytest.mark.filterwarnings("ignore:'db' is deprecated:DeprecationWarning"),
]

WAIT = 30  # seconds


def read_changes(mysql_params: dict, gtid: str, table: str) -> list[tuple]:
    """Row changes of `table` after `gtid`, read to the current end of the binlog."""
    settings = {
        "host": mysql_params["host"],
        "port": mysql_params["port"],
        "user": mysql_params["user"],
        "password": mysql_params["password"],
        "connect_timeout": 10,
        "read_timeout": WAIT,
    }
    stream = BinLogStreamReader(
        connection_settings=settings,
        server_id=random.randint(10_000, 2**31 - 1),  # unique per reader
        is_mariadb=True,
        auto_position=gtid,
        blocking=False,  # stop at the end of the binlog
        only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent],
        only_schemas=[mysql_params["database"]],
        only_tables=[table],
    )
    changes: list[tuple] = []
    deadline = time.monotonic() + WAIT
    try:
        for event in stream:
            for row in event.rows:
                if isinstance(event, WriteRowsEvent):
                    changes.append(("insert", row["values"]["id"], row["values"]["v"]))
                elif isinstance(event, UpdateRowsEvent):
                    changes.append(("update", row["after_values"]["id"], row["after_values"]["v"]))
                else:
                    changes.append(("delete", row["values"]["id"], row["values"]["v"]))
            assert time.monotonic() < deadline, f"binlog read took over {WAIT}s"
    finally:
        stream.close()
    return changes


def test_binlog_resumes_after_saved_gtid(mysql_params):
    table = f"binlog_test_{uuid.uuid4().hex[:10]}"
    conn = pymysql.connect(autocommit=True, **mysql_params)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE TABLE {table} (id INT PRIMARY KEY, v VARCHAR(20))")
            cur.execute("SELECT @@gtid_binlog_pos")
            before_inserts = cur.fetchone()[0]
            cur.execute(f"INSERT INTO {table} VALUES (1, 'a')")
            cur.execute(f"INSERT INTO {table} VALUES (2, 'b')")
            cur.execute("SELECT @@gtid_binlog_pos")
            saved = cur.fetchone()[0]  # what a reader would checkpoint after row 2
            cur.execute(f"INSERT INTO {table} VALUES (3, 'c')")
            cur.execute(f"UPDATE {table} SET v = 'b2' WHERE id = 2")
            cur.execute(f"DELETE FROM {table} WHERE id = 1")
        assert saved != before_inserts and saved.startswith("0-1-")

        later = [("insert", 3, "c"), ("update", 2, "b2"), ("delete", 1, "a")]
        # Column names come from binlog_row_metadata=FULL.
        assert read_changes(mysql_params, before_inserts, table) == [
            ("insert", 1, "a"),
            ("insert", 2, "b"),
            *later,
        ]
        assert read_changes(mysql_params, saved, table) == later
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
        conn.close()
