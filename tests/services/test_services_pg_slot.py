"""A pgoutput slot resumes after the last acknowledged commit: acknowledged changes are not
replayed after a reconnect, unacknowledged ones are."""

from __future__ import annotations

import select
import struct
import time
import uuid

import psycopg
import psycopg2
import pytest
from psycopg2.extras import LogicalReplicationConnection

pytestmark = pytest.mark.services

WAIT = 30  # seconds, for any single wait in this file


def lsn_to_int(lsn: str) -> int:
    hi, lo = lsn.split("/")
    return (int(hi, 16) << 32) + int(lo, 16)


def decode(payload: bytes) -> tuple[str, object]:
    """The few pgoutput (protocol 1) messages this test needs."""
    kind = chr(payload[0])
    if kind == "C":  # flags, commit LSN, end LSN, timestamp
        _flags, _commit, end_lsn, _ts = struct.unpack_from(">BQQq", payload, 1)
        return kind, end_lsn
    if kind == "I":  # relation id, 'N', tuple data
        assert payload[5:6] == b"N"
        (ncols,) = struct.unpack_from(">H", payload, 6)
        off, values = 8, []
        for _ in range(ncols):
            tag = payload[off : off + 1]
            off += 1
            if tag == b"t":
                (size,) = struct.unpack_from(">I", payload, off)
                values.append(payload[off + 4 : off + 4 + size].decode())
                off += 4 + size
            else:
                values.append(None)
        return kind, values
    return kind, None


def read_until(cur, done, timeout: float = WAIT) -> list[tuple[str, object]]:
    """Read messages until done(messages) is true; fail after timeout."""
    got: list[tuple[str, object]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = cur.read_message()
        if msg is None:
            select.select([cur], [], [], max(0.0, min(0.5, deadline - time.monotonic())))
            continue
        got.append(decode(msg.payload))
        if done(got):
            return got
    raise AssertionError(f"timed out after {timeout}s; messages so far: {got}")


def commits(n: int):
    return lambda got: sum(kind == "C" for kind, _ in got) >= n


def inserted_ids(got) -> list[str]:
    return [values[0] for kind, values in got if kind == "I"]


def slot_row(conn, slot: str):
    return conn.execute(
        "SELECT active, confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s",
        (slot,),
    ).fetchone()


def wait_for(cond, what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


def stream(pg_dsn: str, slot: str, publication: str):
    conn = psycopg2.connect(pg_dsn, connection_factory=LogicalReplicationConnection)
    cur = conn.cursor()
    cur.start_replication(
        slot_name=slot,
        decode=False,
        options={"proto_version": "1", "publication_names": publication},
    )
    return conn, cur


def test_pgoutput_slot_replays_only_unacknowledged_commits(pg_dsn):
    suffix = uuid.uuid4().hex[:10]
    table, pub, slot = f"slot_test_{suffix}", f"pub_test_{suffix}", f"slot_test_{suffix}"
    with psycopg.connect(pg_dsn, autocommit=True) as sql:
        sql.execute("SET statement_timeout = '30s'")
        sql.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v text)")
        repl = None
        try:
            sql.execute(f"CREATE PUBLICATION {pub} FOR TABLE {table}")
            sql.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (slot,))
            # Two transactions (autocommit): the first will be acknowledged, the second not.
            sql.execute(f"INSERT INTO {table} VALUES (1, 'one')")
            sql.execute(f"INSERT INTO {table} VALUES (2, 'two')")

            repl, cur = stream(pg_dsn, slot, pub)
            first = read_until(cur, commits(1))
            assert inserted_ids(first) == ["1"]
            assert first[0][0] == "B" and first[-1][0] == "C"
            end_lsn = first[-1][1]
            cur.send_feedback(flush_lsn=end_lsn, force=True)
            wait_for(
                lambda: lsn_to_int(slot_row(sql, slot)[1]) >= end_lsn,
                "the slot to confirm the acknowledged commit",
            )

            second = read_until(cur, commits(1))
            assert inserted_ids(second) == ["2"]
            unacked_end = second[-1][1]
            # Deliberately no feedback for the second commit.
            repl.close()
            repl = None
            wait_for(lambda: slot_row(sql, slot)[0] is False, "the slot to become inactive")
            assert lsn_to_int(slot_row(sql, slot)[1]) < unacked_end

            sql.execute(f"INSERT INTO {table} VALUES (3, 'three')")
            repl, cur = stream(pg_dsn, slot, pub)
            resumed = read_until(cur, lambda got: "3" in inserted_ids(got) and got[-1][0] == "C")
            # 'R' (relation) is sent again on the new connection; row 1 is not replayed.
            assert "R" in [kind for kind, _ in resumed]
            assert inserted_ids(resumed) == ["2", "3"]
            repl.close()
            repl = None

            wait_for(lambda: slot_row(sql, slot)[0] is False, "the slot to become inactive")
            sql.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
            assert slot_row(sql, slot) is None
        finally:
            if repl is not None:
                repl.close()
            deadline = time.monotonic() + WAIT
            while slot_row(sql, slot) is not None and time.monotonic() < deadline:
                # A slot left behind would pin WAL forever; it is dropped once inactive.
                try:
                    sql.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
                except psycopg.errors.ObjectInUse:
                    time.sleep(0.2)
            sql.execute(f"DROP PUBLICATION IF EXISTS {pub}")
            sql.execute(f"DROP TABLE IF EXISTS {table}")
