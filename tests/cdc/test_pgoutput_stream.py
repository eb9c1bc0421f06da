"""The pgoutput decoder against a real PostgreSQL walsender.

One scenario runs on a fresh database (every message type, TOAST, both replica
identities, streamed and aborted large transactions), then the stream is read through
psycopg2's LogicalReplicationConnection and decoded. Decoded rows must equal what a
SELECT of the same row returns through a configured psycopg 3 connection, i.e. what the
snapshot reader sees.
"""

from __future__ import annotations

import select
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import psycopg2
import pytest
from psycopg.rows import dict_row
from psycopg.types import TypeInfo
from psycopg2.extras import LogicalReplicationConnection

from relmig.source.pgoutput import (
    STREAM_SESSION_OPTIONS,
    UNCHANGED,
    Begin,
    Commit,
    Decoder,
    Delete,
    Insert,
    LogicalMessage,
    Message,
    Origin,
    Relation,
    RelationCache,
    RowLoader,
    StreamAbort,
    StreamCommit,
    StreamStart,
    StreamStop,
    Truncate,
    Type,
    Update,
    decode,
)
from relmig.source.postgres_types import configure_connection

pytestmark = [
    pytest.mark.services,
    pytest.mark.alone(
        why="its tests find transactions by their place in the stream, and with jobs running "
        "beside it the scenario's transactions came out of place (twice, under xdist)"
    ),
]

WAIT = 60  # seconds, for reading the whole stream
PREFIX = "relmig.test"
END = "relmig.test.end"
ORIGIN_LSN = 0xABCDEF
BIG_ROWS = 2000  # rows per large transaction; far above logical_decoding_work_mem=64kB

DDL = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE items (
    id int PRIMARY KEY, big text, n numeric(12, 3), ok boolean, at timestamptz,
    ts timestamp, day date, doc jsonb, js json, uid uuid, raw bytea, nums int[],
    words text[], m mood, ms mood[], span interval, f float8, addr inet
);
CREATE TABLE full_items (id int PRIMARY KEY, big text, n numeric, words text[]);
ALTER TABLE full_items REPLICA IDENTITY FULL;
CREATE TABLE seq_items (id serial PRIMARY KEY, v text);
"""

ROW1 = """INSERT INTO items VALUES (1, %(big)s, 12345.678, true,
    '2024-02-29 12:34:56.789012+05:30', '1999-12-31 23:59:59.5', '2024-02-29',
    '{"a": [1, 2.5, null], "b": {"c": "ü"}}', '{"z": 1, "a": 2}',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\x00ff10', '{1,NULL,3}', '{"a b",c,NULL}',
    'happy', '{sad,ok}', '1 year 2 mons 3 days 04:05:06.5', 0.1, '10.0.0.1/8')"""
ROW2 = """INSERT INTO items (id, big, n, ok, at, doc, words, m, f)
    VALUES (2, '', -0.5, false, 'infinity', '[]', '{}', 'sad', '-Infinity')"""

# Random hex does not compress, so 8 kB is stored out of line (TOAST).
RANDOM_BIG = "SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 250)"


@dataclass(frozen=True)
class Change:
    op: str  # insert, update, delete
    table: str
    xid: int | None
    old_kind: str | None
    old: dict[str, Any] | None
    new: dict[str, Any] | None


@dataclass
class Run:
    events: list[tuple[int, Message, Change | None]] = field(default_factory=list)
    expected: dict[str, Any] = field(default_factory=dict)
    binary_messages: list[Message] = field(default_factory=list)
    default_session_messages: list[Message] = field(default_factory=list)
    relations: RelationCache = field(default_factory=RelationCache)
    binary_relations: RelationCache = field(default_factory=RelationCache)
    loader: RowLoader | None = None

    def messages(self, cls: type) -> list[Any]:
        return [m for _, m, _ in self.events if isinstance(m, cls)]

    def units(self) -> list[list[tuple[int, Message, Change | None]]]:
        """Split at the ends of transactions (C, c, top-level A) and around non-transactional
        messages: one unit per source transaction, in commit order."""
        units: list[list[tuple[int, Message, Change | None]]] = []
        current: list[tuple[int, Message, Change | None]] | None = None
        for event in self.events:
            msg = event[1]
            if current is None and isinstance(msg, LogicalMessage) and not msg.transactional:
                units.append([event])
                continue
            if current is None:
                current = []
            current.append(event)
            if isinstance(msg, Commit | StreamCommit) or (
                isinstance(msg, StreamAbort) and msg.subxid == msg.xid
            ):
                units.append(current)
                current = None
        assert current is None, "stream ended inside a transaction"
        return units


def read_stream(cur, done, record) -> None:
    """Read and hand each payload to record() until done(); bounded by WAIT."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        msg = cur.read_message()
        if msg is None:
            select.select([cur], [], [], max(0.0, min(0.5, deadline - time.monotonic())))
            continue
        if done(record(msg)):
            return
    raise AssertionError(f"stream not finished after {WAIT}s")


def to_change(msg: Message, relations: RelationCache, loader: RowLoader) -> Change | None:
    if isinstance(msg, Relation):
        relations.add(msg)
    if not isinstance(msg, Insert | Update | Delete):
        return None
    rel = relations[msg.relation_id]
    new = None if isinstance(msg, Delete) else loader.load(rel, msg.new)
    old_data = None if isinstance(msg, Insert) else msg.old
    old = None if old_data is None else loader.load(rel, old_data)
    op = type(msg).__name__.lower()
    return Change(op, rel.name, msg.xid, getattr(msg, "old_kind", None), old, new)


def open_stream(
    dsn: str, slot: str, options: dict[str, str], session: str | None = STREAM_SESSION_OPTIONS
):
    extra = {"options": session} if session else {}
    conn = psycopg2.connect(dsn, connection_factory=LogicalReplicationConnection, **extra)
    cur = conn.cursor()
    cur.start_replication(slot_name=slot, decode=False, options=options)
    return conn, cur


def run_scenario(ctx: psycopg.Connection, admin: psycopg.Connection, origin: str) -> dict:
    """All source changes; returns the rows a SELECT gave at each step."""
    ex: dict[str, Any] = {"origin_name": origin}

    def row(table: str, key: int) -> dict[str, Any]:
        cur = ctx.cursor(row_factory=dict_row)
        return cur.execute(f"SELECT * FROM {table} WHERE id = %s", (key,)).fetchone()

    big = ctx.execute(RANDOM_BIG).fetchone()[0]
    ex["big"] = big
    with ctx.transaction():
        ctx.execute(ROW1, {"big": big})
        ctx.execute(ROW2)
    ex["ins1"], ex["ins2"] = row("items", 1), row("items", 2)
    ex["stored_size"] = ctx.execute(
        "SELECT pg_column_size(big) FROM items WHERE id = 1"
    ).fetchone()[0]
    # TOASTed column untouched → 'u'; the small one (row 2) is sent in full.
    ctx.execute("UPDATE items SET ok = false, n = n + 1 WHERE id IN (1, 2)")
    ex["upd1"], ex["upd2"] = row("items", 1), row("items", 2)
    ctx.execute("UPDATE items SET id = 10 WHERE id = 1")  # key change → 'K'
    ex["key10"] = row("items", 10)
    ctx.execute("DELETE FROM items WHERE id = 2")

    big2 = ctx.execute(RANDOM_BIG).fetchone()[0]
    ctx.execute("INSERT INTO full_items VALUES (1, %s, 1.5, '{x,y}')", (big2,))
    ex["full_ins"] = row("full_items", 1)
    ctx.execute("UPDATE full_items SET n = 2.5 WHERE id = 1")
    ex["full_upd"] = row("full_items", 1)
    ctx.execute("DELETE FROM full_items WHERE id = 1")

    # A transaction replayed from a replication origin → 'O' after 'B'.
    admin.execute("SELECT pg_replication_origin_session_setup(%s)", (origin,))
    with admin.transaction():
        admin.execute(
            "SELECT pg_replication_origin_xact_setup(%s::pg_lsn, now())",
            (f"{ORIGIN_LSN >> 32:X}/{ORIGIN_LSN & 0xFFFFFFFF:X}",),
        )
        admin.execute("INSERT INTO items (id, big) VALUES (3, 'from origin')")
    admin.execute("SELECT pg_replication_origin_session_reset()")
    ex["origin3"] = row("items", 3)

    with ctx.transaction():
        ctx.execute("SELECT pg_logical_emit_message(true, %s, 'in txn'::text)", (PREFIX,))
        ctx.execute("INSERT INTO seq_items (v) VALUES ('a')")
        # Not part of the transaction: decoded (and sent) at once, before it.
        ctx.execute("SELECT pg_logical_emit_message(false, %s, '\\x00ff'::bytea)", (PREFIX,))
    ctx.execute("TRUNCATE items, full_items, seq_items RESTART IDENTITY CASCADE")
    ex["truncated"] = ctx.execute(
        "SELECT array_agg(oid::int ORDER BY relname) FROM pg_class "
        "WHERE relname IN ('items', 'full_items', 'seq_items')"
    ).fetchone()[0]

    # Large transaction: streamed in chunks, committed with 'c'.
    with ctx.transaction():
        ctx.execute(
            "INSERT INTO items (id, big, n, ok, doc, words, m, at) SELECT g, md5(g::text), "
            "g / 7.0, g %% 2 = 0, jsonb_build_object('g', g), ARRAY[g::text, 'w'], "
            "(ARRAY['sad', 'ok', 'happy']::mood[])[g %% 3 + 1], "
            "'2024-01-01 00:00:00+00'::timestamptz + g * interval '1 second' "
            "FROM generate_series(1000, %s) g",
            (1000 + BIG_ROWS - 1,),
        )
        cur = ctx.cursor(row_factory=dict_row)
        ex["streamed_rows"] = cur.execute(
            "SELECT * FROM items WHERE id >= 1000 ORDER BY id"
        ).fetchall()
        ctx.execute("UPDATE items SET n = 0.125 WHERE id = 1000")
        ex["streamed_upd"] = row("items", 1000)
        ctx.execute("DELETE FROM items WHERE id = 1001")
        ctx.execute("SELECT pg_logical_emit_message(true, %s, 'streamed'::text)", (PREFIX,))
        ctx.execute("TRUNCATE full_items")

    # Large transaction rolled back after being streamed → 'A' (xid = subxid).
    ctx.execute("BEGIN")
    ctx.execute(
        "INSERT INTO items (id, big) SELECT g, md5(g::text) FROM generate_series(100000, %s) g",
        (100000 + BIG_ROWS - 1,),
    )
    ctx.execute("ROLLBACK")

    # Large transaction whose streamed savepoint is rolled back → 'A' (subxid ≠ xid), 'c'.
    with ctx.transaction():
        ctx.execute("INSERT INTO items (id, big) VALUES (5000, 'kept')")
        ctx.execute("SAVEPOINT sp")
        ctx.execute(
            "INSERT INTO items (id, big) SELECT g, md5(g::text) FROM generate_series(200000, %s) g",
            (200000 + BIG_ROWS - 1,),
        )
        ctx.execute("ROLLBACK TO SAVEPOINT sp")
        ctx.execute(
            "INSERT INTO items (id, big) SELECT g, md5(g::text) FROM generate_series(300000, %s) g",
            (300000 + BIG_ROWS - 1,),
        )
    ex["kept"] = row("items", 5000)

    ctx.execute("SELECT pg_logical_emit_message(false, %s, 'end'::text)", (END,))
    return ex


@pytest.fixture(scope="module")
def run(pg_dsn, pg_admin_dsn, services_settings) -> Iterator[Run]:
    s = services_settings
    suffix = uuid.uuid4().hex[:10]
    db, pub = f"relmig_t_pgo_{suffix}", "pgo_pub"
    slot, bin_slot, plain_slot = (f"pgo_{kind}_{suffix}" for kind in ("text", "bin", "plain"))
    origin = f"relmig_t_pgo_{suffix}"
    host, port = s["RELMIG_HOST"], s["RELMIG_PG_PORT"]
    dsn = f"postgresql://{s['RELMIG_PG_USER']}:{s['RELMIG_PG_PASSWORD']}@{host}:{port}/{db}"
    admin_dsn = (
        f"postgresql://{s['RELMIG_PG_ADMIN_USER']}:{s['RELMIG_PG_ADMIN_PASSWORD']}"
        f"@{host}:{port}/{db}"
    )
    with psycopg.connect(pg_dsn, autocommit=True) as boot:
        boot.execute(f"CREATE DATABASE {db}")
    repl = []
    try:
        with (
            psycopg.connect(dsn, autocommit=True) as ctx,
            psycopg.connect(admin_dsn, autocommit=True) as admin,
        ):
            ctx.execute("SET statement_timeout = '60s'")
            # Applies to this role's walsender in this database, so big transactions stream.
            ctx.execute(
                f"ALTER ROLE CURRENT_USER IN DATABASE {db} SET logical_decoding_work_mem = '64kB'"
            )
            ctx.execute(DDL)
            configure_connection(ctx)
            # Lets psycopg split mood[] like the snapshot reader's ::text[] cast does.
            TypeInfo.fetch(ctx, "mood").register(ctx)
            ctx.execute(f"CREATE PUBLICATION {pub} FOR TABLE items, full_items, seq_items")
            for name in (slot, bin_slot, plain_slot):
                ctx.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (name,))
            admin.execute("SELECT pg_replication_origin_create(%s)", (origin,))

            result = Run(expected=run_scenario(ctx, admin, origin), loader=RowLoader(ctx))

            conn, cur = open_stream(
                dsn,
                slot,
                {
                    "proto_version": "2",
                    "streaming": "on",
                    "messages": "true",
                    "publication_names": pub,
                },
            )
            repl.append(conn)
            decoder = Decoder()

            def record(raw) -> Message:
                msg = decoder.decode(raw.payload)
                change = to_change(msg, result.relations, result.loader)
                result.events.append((raw.data_start, msg, change))
                return msg

            read_stream(cur, lambda m: isinstance(m, LogicalMessage) and m.prefix == END, record)

            # Protocol v1 with binary values, up to the first commit only.
            conn, cur = open_stream(
                dsn, bin_slot, {"proto_version": "1", "binary": "true", "publication_names": pub}
            )
            repl.append(conn)

            def record_binary(raw) -> Message:
                msg = decode(raw.payload)
                if isinstance(msg, Relation):
                    result.binary_relations.add(msg)
                result.binary_messages.append(msg)
                return msg

            read_stream(cur, lambda m: isinstance(m, Commit), record_binary)

            # Without relmig's session settings, up to the first commit.
            conn, cur = open_stream(
                dsn, plain_slot, {"proto_version": "1", "publication_names": pub}, session=None
            )
            repl.append(conn)

            def record_plain(raw) -> Message:
                msg = decode(raw.payload)
                result.default_session_messages.append(msg)
                return msg

            read_stream(cur, lambda m: isinstance(m, Commit), record_plain)
            yield result
    finally:
        for conn in repl:
            conn.close()
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline:
                try:
                    admin.execute(
                        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                        "WHERE database = current_database()"
                    )
                    break
                except psycopg.errors.ObjectInUse:  # the walsender is still exiting
                    time.sleep(0.2)
            admin.execute(f"DROP PUBLICATION IF EXISTS {pub}")
            admin.execute(
                "SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin "
                "WHERE roname = %s",
                (origin,),
            )
        # As a superuser: the admin session above may still be exiting, and only a superuser
        # may end a superuser's backend (FORCE does).
        with psycopg.connect(pg_admin_dsn, autocommit=True) as boot:
            boot.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def changes(unit) -> list[Change]:
    return [c for _, _, c in unit if c is not None]


def kinds(unit) -> str:
    return " ".join(type(m).__name__ for _, m, _ in unit)


def unchanged(row: dict[str, Any], *columns: str) -> dict[str, Any]:
    return {**row, **dict.fromkeys(columns, UNCHANGED)}


def key_only(row: dict[str, Any], key: str = "id") -> dict[str, Any]:
    return {name: (value if name == key else None) for name, value in row.items()}


# ---------------------------------------------------------------------------------------


def test_relation_and_type_messages(run):
    rels = {r.name: r for r in run.relations}
    assert set(rels) == {"items", "full_items", "seq_items"}
    items = rels["items"]
    assert items.namespace == "public" and items.replica_identity == "d"
    assert [c.name for c in items.columns] == list(run.expected["ins1"])
    assert [c.name for c in items.columns if c.key] == ["id"]
    assert {c.name: c.type_modifier for c in items.columns}["n"] == (12 << 16 | 3) + 4
    assert rels["full_items"].replica_identity == "f"
    assert all(c.key for c in rels["full_items"].columns)  # FULL: every column is key
    types = run.messages(Type)
    assert {(t.namespace, t.name) for t in types} == {("public", "mood"), ("public", "_mood")}
    # Relation and Type messages carry LSN 0/0 (never acknowledge them).
    assert all(lsn == 0 for lsn, m, _ in run.events if isinstance(m, Relation | Type))


def test_plain_transactions(run):
    units = run.units()
    ex = run.expected
    begin, commit = units[0][0][1], units[0][-1][1]
    assert isinstance(begin, Begin) and isinstance(commit, Commit)
    assert commit.commit_time.tzinfo is not None and commit.end_lsn > commit.commit_lsn
    assert begin.final_lsn == commit.commit_lsn

    ins = changes(units[0])
    assert [(c.op, c.table, c.xid) for c in ins] == [("insert", "items", None)] * 2
    assert ins[0].new == ex["ins1"]
    assert ins[1].new == ex["ins2"]
    assert ex["stored_size"] > 2000  # really out of line, not compressed small

    (upd1, upd2) = changes(units[1])
    assert upd1.old is None and upd1.old_kind is None
    assert upd1.new == unchanged(ex["upd1"], "big")  # TOAST untouched → 'u'
    assert upd2.new == ex["upd2"]  # inline value is always sent

    (key_change,) = changes(units[2])
    assert key_change.old_kind == "K"
    assert key_change.old == key_only(ex["ins1"])  # {'id': 1, every other column None}
    assert key_change.new == unchanged(ex["key10"], "big")

    (delete,) = changes(units[3])
    assert (delete.op, delete.old_kind, delete.new) == ("delete", "K", None)
    assert delete.old == key_only(ex["ins2"])


def test_replica_identity_full(run):
    ex = run.expected
    (ins,), (upd,), (dele,) = [changes(u) for u in run.units()[4:7]]
    assert ins.new == ex["full_ins"]
    assert upd.old_kind == "O" and upd.old == ex["full_ins"]  # whole old row, TOAST included
    # Surprise: the new image still says 'u' for the untouched TOAST column.
    assert upd.new == unchanged(ex["full_upd"], "big")
    assert dele.old_kind == "O" and dele.old == ex["full_upd"]


def test_origin(run):
    unit = run.units()[7]
    assert kinds(unit) == "Begin Origin Insert Commit"
    assert unit[1][1] == Origin(ORIGIN_LSN, run.expected["origin_name"])
    assert changes(unit)[0].new == run.expected["origin3"]


def test_logical_messages_and_truncate(run):
    units = run.units()
    # The non-transactional message is sent at once, before its transaction commits.
    (non_tx,) = units[8]
    assert non_tx[1] == LogicalMessage(False, non_tx[1].lsn, PREFIX, b"\x00\xff")
    msg_unit = units[9]
    assert kinds(msg_unit) == "Begin LogicalMessage Relation Insert Commit"
    assert msg_unit[1][1].transactional and msg_unit[1][1].content == b"in txn"
    assert msg_unit[1][1].xid is None

    trunc_unit = units[10]
    (trunc,) = [m for _, m, _ in trunc_unit if isinstance(m, Truncate)]
    assert trunc.cascade and trunc.restart_identity and trunc.xid is None
    assert sorted(trunc.relation_ids) == sorted(run.expected["truncated"])


def test_streamed_commit(run):
    unit = run.units()[11]
    msgs = [m for _, m, _ in unit]
    starts = [m for m in msgs if isinstance(m, StreamStart)]
    assert len(starts) > 1, "the large transaction was not streamed in several chunks"
    xid = starts[0].xid
    assert [s.first_segment for s in starts] == [True] + [False] * (len(starts) - 1)
    assert all(s.xid == xid for s in starts)
    assert sum(isinstance(m, StreamStop) for m in msgs) == len(starts)
    assert not any(isinstance(m, Begin | Commit) for m in msgs)
    assert msgs[-1] == StreamCommit(
        xid, 0, msgs[-1].commit_lsn, msgs[-1].end_lsn, msgs[-1].commit_time
    )
    # Every data message inside the stream carries the transaction's xid.
    data = [m for m in msgs if not isinstance(m, StreamStart | StreamStop | StreamCommit)]
    assert data and all(m.xid == xid for m in data)

    ex = run.expected
    found = changes(unit)
    inserts = [c.new for c in found if c.op == "insert"]
    assert inserts == ex["streamed_rows"]
    (upd,) = [c for c in found if c.op == "update"]
    assert upd.new == ex["streamed_upd"] and upd.xid == xid
    (dele,) = [c for c in found if c.op == "delete"]
    assert dele.old == key_only(ex["streamed_rows"][1])
    (message,) = [m for m in data if isinstance(m, LogicalMessage)]
    assert message.content == b"streamed" and message.transactional
    (trunc,) = [m for m in data if isinstance(m, Truncate)]
    assert not trunc.cascade and not trunc.restart_identity


def test_streamed_abort(run):
    unit = run.units()[12]
    msgs = [m for _, m, _ in unit]
    assert isinstance(msgs[0], StreamStart) and msgs[0].first_segment
    xid = msgs[0].xid
    assert msgs[-1] == StreamAbort(xid, xid)
    assert not any(isinstance(m, StreamCommit | Commit) for m in msgs)
    assert all(c.xid == xid for c in changes(unit))


def test_streamed_savepoint_rollback(run):
    unit = run.units()[13]
    msgs = [m for _, m, _ in unit]
    top = msgs[0].xid
    (sub_abort,) = [m for m in msgs if isinstance(m, StreamAbort)]
    assert sub_abort.xid == top and sub_abort.subxid != top
    assert isinstance(msgs[-1], StreamCommit) and msgs[-1].xid == top
    # Inside a stream the xid field is the (sub)transaction's own xid, not the top-level
    # one: the consumer buffers by xid and drops the aborted subtransaction's share on 'A'.
    by_xid: dict[int, list[int]] = {}
    for change in changes(unit):
        by_xid.setdefault(change.xid, []).append(change.new["id"])
    assert by_xid.pop(top) == [5000]
    rolled_back = by_xid.pop(sub_abort.subxid)
    assert rolled_back and all(200000 <= i < 300000 for i in rolled_back)
    (kept_xid,) = by_xid
    assert kept_xid not in (top, sub_abort.subxid)
    assert by_xid[kept_xid] == list(range(300000, 300000 + BIG_ROWS))
    assert [c.new for c in changes(unit) if c.new["id"] == 5000] == [run.expected["kept"]]
    assert len(run.units()) == 15  # ... and then the end marker
    assert run.units()[14][0][1].prefix == END


def test_binary_values_protocol_v1(run):
    msgs = run.binary_messages
    assert isinstance(msgs[0], Begin) and isinstance(msgs[-1], Commit)
    inserts = [m for m in msgs if isinstance(m, Insert)]
    assert [m.xid for m in inserts] == [None, None]
    assert set(inserts[0].new.kinds) == {"b"}
    rel = run.binary_relations[inserts[0].relation_id]
    row = run.loader.load(rel, inserts[0].new)
    # psycopg's binary loaders agree with relmig's text loaders for these types; relmig
    # overrides text only, so intervals, inet and enums come out differently in binary...
    same = ["id", "big", "n", "ok", "at", "ts", "day", "doc", "js", "uid", "raw", "nums"]
    same += ["words", "f"]
    assert {k: row[k] for k in same} == {k: run.expected["ins1"][k] for k in same}
    assert row["span"] != run.expected["ins1"]["span"]
    # ... and psycopg's binary timestamptz loader raises on 'infinity'.
    with pytest.raises(psycopg.DataError):
        run.loader.load(rel, inserts[1].new)


def test_stream_needs_relmig_session_settings(run):
    """The walsender formats text values with its own session settings: without
    STREAM_SESSION_OPTIONS (server default IntervalStyle 'postgres') intervals differ."""
    insert = next(m for m in run.default_session_messages if isinstance(m, Insert))
    rel = run.relations[insert.relation_id]
    row = run.loader.load(rel, insert.new)
    assert run.expected["ins1"]["span"] == "P1Y2M3DT4H5M6.5S"
    assert row["span"] == "1 year 2 mons 3 days 04:05:06.5"
    same = [k for k in row if k != "span"]
    assert {k: row[k] for k in same} == {k: run.expected["ins1"][k] for k in same}
