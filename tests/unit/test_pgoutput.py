"""pgoutput decoder on hand-built payloads (protocol v1 and v2, in and out of a stream)."""

from __future__ import annotations

import contextlib
import datetime as dt
import pickle
import struct
from decimal import Decimal

import pytest

from relmig.errors import SourceError
from relmig.source.pgoutput import (
    STREAM_SESSION_OPTIONS,
    UNCHANGED,
    Begin,
    Column,
    Commit,
    Decoder,
    Delete,
    Insert,
    LogicalMessage,
    Origin,
    PgOutputError,
    Relation,
    RelationCache,
    RowLoader,
    StreamAbort,
    StreamCommit,
    StreamStart,
    StreamStop,
    Truncate,
    TupleData,
    Type,
    Unchanged,
    Update,
    decode,
    load_tuple,
    pg_timestamp,
)

UTC = dt.UTC
TS = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
TS_MICROS = (TS - dt.datetime(2000, 1, 1, tzinfo=UTC)) // dt.timedelta(microseconds=1)
XID = 7777


# ---------------------------------------------------------------------------------------
# Payload builders (the wire format, written independently of the decoder)


def s(text: str) -> bytes:
    return text.encode() + b"\0"


def u8(n: int) -> bytes:
    return struct.pack(">B", n)


def u16(n: int) -> bytes:
    return struct.pack(">H", n)


def u32(n: int) -> bytes:
    return struct.pack(">I", n)


def i32(n: int) -> bytes:
    return struct.pack(">i", n)


def u64(n: int) -> bytes:
    return struct.pack(">Q", n)


def i64(n: int) -> bytes:
    return struct.pack(">q", n)


def tup(*cols: tuple[str, bytes | None]) -> bytes:
    """cols: ('t', b'..'), ('b', b'..'), ('n', None), ('u', None)."""
    out = u16(len(cols))
    for kind, value in cols:
        out += kind.encode()
        if kind in "tb":
            out += u32(len(value)) + value
    return out


def xid(streamed: bool) -> bytes:
    return u32(XID) if streamed else b""


ROW = tup(("t", b"42"), ("n", None), ("u", None), ("b", b"\x00\x01"), ("t", b""))
ROW_DATA = TupleData("tnubt", (b"42", None, UNCHANGED, b"\x00\x01", b""))
KEY = tup(("t", b"41"), ("n", None), ("n", None), ("n", None), ("n", None))
KEY_DATA = TupleData("tnnnn", (b"41", None, None, None, None))


def relation_payload(streamed: bool) -> bytes:
    return (
        b"R"
        + xid(streamed)
        + u32(16384)
        + s("public")
        + s("thing")
        + b"d"
        + u16(2)
        + u8(1)
        + s("id")
        + u32(23)
        + i32(-1)
        + u8(0)
        + s("näme")
        + u32(1043)
        + i32(44)
    )


RELATION = Relation(
    16384,
    "public",
    "thing",
    "d",
    (Column("id", 23, -1, True), Column("näme", 1043, 44, False)),
)


def with_xid(message, streamed: bool):
    if not streamed:
        return message
    fields = {f: getattr(message, f) for f in message.__dataclass_fields__}
    return type(message)(**{**fields, "xid": XID})


# Data messages: decoded differently in and out of a stream.
DATA_CASES = {
    "relation": (relation_payload, RELATION),
    "type": (
        lambda st: b"Y" + xid(st) + u32(90001) + s("app") + s("mood"),
        Type(90001, "app", "mood"),
    ),
    "insert": (
        lambda st: b"I" + xid(st) + u32(16384) + b"N" + ROW,
        Insert(16384, ROW_DATA),
    ),
    "update-new-only": (
        lambda st: b"U" + xid(st) + u32(16384) + b"N" + ROW,
        Update(16384, ROW_DATA),
    ),
    "update-key": (
        lambda st: b"U" + xid(st) + u32(16384) + b"K" + KEY + b"N" + ROW,
        Update(16384, ROW_DATA, KEY_DATA, "K"),
    ),
    "update-old": (
        lambda st: b"U" + xid(st) + u32(16384) + b"O" + ROW + b"N" + ROW,
        Update(16384, ROW_DATA, ROW_DATA, "O"),
    ),
    "delete-key": (
        lambda st: b"D" + xid(st) + u32(16384) + b"K" + KEY,
        Delete(16384, KEY_DATA, "K"),
    ),
    "delete-old": (
        lambda st: b"D" + xid(st) + u32(16384) + b"O" + ROW,
        Delete(16384, ROW_DATA, "O"),
    ),
    "truncate-plain": (
        lambda st: b"T" + xid(st) + u32(1) + u8(0) + u32(16384),
        Truncate((16384,), cascade=False, restart_identity=False),
    ),
    "truncate-cascade": (
        lambda st: b"T" + xid(st) + u32(2) + u8(1) + u32(16384) + u32(16390),
        Truncate((16384, 16390), cascade=True, restart_identity=False),
    ),
    "truncate-restart": (
        lambda st: b"T" + xid(st) + u32(3) + u8(3) + u32(1) + u32(2) + u32(3),
        Truncate((1, 2, 3), cascade=True, restart_identity=True),
    ),
    "message-transactional": (
        lambda st: b"M" + xid(st) + u8(1) + u64(0x1_0000_0010) + s("relmig") + u32(3) + b"a\0b",
        LogicalMessage(True, 0x1_0000_0010, "relmig", b"a\0b"),
    ),
    "message-empty": (
        lambda st: b"M" + xid(st) + u8(0) + u64(5) + s("") + u32(0),
        LogicalMessage(False, 5, "", b""),
    ),
}

# Messages without an xid field: identical in and out of a stream.
PLAIN_CASES = {
    "begin": (
        b"B" + u64(0x2_0000_0100) + i64(TS_MICROS) + u32(XID),
        Begin(0x2_0000_0100, TS, XID),
    ),
    "commit": (
        b"C" + u8(0) + u64(0x2_0000_00F0) + u64(0x2_0000_0100) + i64(TS_MICROS),
        Commit(0, 0x2_0000_00F0, 0x2_0000_0100, TS),
    ),
    "origin": (b"O" + u64(0xABCDEF) + s("node_a"), Origin(0xABCDEF, "node_a")),
    "stream-start-first": (b"S" + u32(XID) + u8(1), StreamStart(XID, True)),
    "stream-start-next": (b"S" + u32(XID) + u8(0), StreamStart(XID, False)),
    "stream-stop": (b"E", StreamStop()),
    "stream-commit": (
        b"c" + u32(XID) + u8(0) + u64(300) + u64(348) + i64(TS_MICROS),
        StreamCommit(XID, 0, 300, 348, TS),
    ),
    "stream-abort": (b"A" + u32(XID) + u32(XID), StreamAbort(XID, XID)),
    "stream-abort-subxact": (b"A" + u32(XID) + u32(XID + 3), StreamAbort(XID, XID + 3)),
    "stream-abort-v4": (
        b"A" + u32(XID) + u32(XID) + u64(999) + i64(TS_MICROS),
        StreamAbort(XID, XID, 999, TS),
    ),
}


# ---------------------------------------------------------------------------------------
# Decoding


@pytest.mark.parametrize("streamed", [False, True], ids=["v1", "in-stream"])
@pytest.mark.parametrize("case", list(DATA_CASES))
def test_data_messages(case, streamed):
    build, expected = DATA_CASES[case]
    assert decode(build(streamed), in_stream=streamed) == with_xid(expected, streamed)


@pytest.mark.parametrize("streamed", [False, True], ids=["out", "in-stream"])
@pytest.mark.parametrize("case", list(PLAIN_CASES))
def test_messages_without_xid(case, streamed):
    payload, expected = PLAIN_CASES[case]
    assert decode(payload, in_stream=streamed) == expected


def test_accepts_bytearray_and_memoryview():
    payload = DATA_CASES["insert"][0](False)
    assert decode(bytearray(payload)) == decode(memoryview(payload)) == decode(payload)


def test_tuple_kinds():
    msg = decode(DATA_CASES["insert"][0](False))
    assert msg.new.kinds == "tnubt"
    value_text, value_null, value_unchanged, value_binary, value_empty = msg.new.values
    assert value_text == b"42" and type(value_text) is bytes
    assert value_null is None
    assert value_unchanged is UNCHANGED
    assert value_binary == b"\x00\x01"
    assert value_empty == b""  # an empty string is a value, not a null


def test_zero_column_tuple():
    assert decode(b"I" + u32(1) + b"N" + u16(0)) == Insert(1, TupleData("", ()))


def test_timestamps_are_aware_utc():
    msg = decode(PLAIN_CASES["begin"][0])
    assert msg.commit_time.tzinfo is UTC
    assert pg_timestamp(0) == dt.datetime(2000, 1, 1, tzinfo=UTC)
    assert pg_timestamp(-1) == dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def test_messages_are_frozen_slotted():
    msg = decode(DATA_CASES["insert"][0](False))
    with pytest.raises(AttributeError):
        msg.relation_id = 1
    assert not hasattr(msg, "__dict__")


def test_decoder_tracks_stream_state():
    d = Decoder()
    insert_v1 = DATA_CASES["insert"][0](False)
    insert_streamed = DATA_CASES["insert"][0](True)
    assert d.decode(insert_v1).xid is None
    assert d.decode(PLAIN_CASES["stream-start-first"][0]) == StreamStart(XID, True)
    assert d.in_stream
    assert d.decode(relation_payload(True)).xid == XID
    assert d.decode(insert_streamed) == Insert(16384, ROW_DATA, XID)
    assert d.decode(b"E") == StreamStop()
    assert not d.in_stream
    assert d.decode(PLAIN_CASES["stream-commit"][0]).xid == XID
    assert d.decode(insert_v1).xid is None


@pytest.mark.parametrize("case", list(DATA_CASES))
def test_wrong_stream_state(case):
    """The xid shifts every field, so a lost S/E makes the length checks fail (row changes
    always do); the rest can by chance parse, but never as the right message."""
    build, expected = DATA_CASES[case]
    for payload, flag, right in (
        (build(True), False, with_xid(expected, True)),
        (build(False), True, expected),
    ):
        if case.startswith(("insert", "update", "delete")):
            with pytest.raises(PgOutputError):
                decode(payload, in_stream=flag)
        else:
            with contextlib.suppress(PgOutputError):
                assert decode(payload, in_stream=flag) != right


# ---------------------------------------------------------------------------------------
# Errors


ALL_PAYLOADS = {f"{k}-v1": build(False) for k, (build, _) in DATA_CASES.items()}
ALL_PAYLOADS |= {f"{k}-stream": build(True) for k, (build, _) in DATA_CASES.items()}
ALL_PAYLOADS |= {k: payload for k, (payload, _) in PLAIN_CASES.items()}


@pytest.mark.parametrize("case", list(ALL_PAYLOADS))
def test_every_truncation_raises(case):
    payload = ALL_PAYLOADS[case]
    streamed = case.endswith("-stream")
    for cut in range(1, len(payload)):
        if case == "stream-abort-v4" and cut == 9:
            continue  # the v2 prefix of a v4 abort is itself a valid v2 abort
        with pytest.raises(PgOutputError, match=r"at offset \d+") as info:
            decode(payload[:cut], in_stream=streamed)
        assert f"({chr(payload[0])!r})" in str(info.value)


def test_error_is_a_source_error():
    assert issubclass(PgOutputError, SourceError)


def test_unknown_message_type():
    with pytest.raises(PgOutputError, match=r"unknown message type 'Z' \(0x5a\) at offset 0"):
        decode(b"Z\0\0")


def test_empty_payload():
    with pytest.raises(PgOutputError, match="empty message at offset 0"):
        decode(b"")


def test_unknown_tuple_kind_names_offset():
    payload = b"I" + u32(1) + b"N" + u16(2) + b"n" + b"x"
    with pytest.raises(PgOutputError, match=r"Insert \('I'\).*kind 'x' at offset 9"):
        decode(payload)


def test_truncated_value_names_offset():
    payload = b"I" + u32(1) + b"N" + u16(1) + b"t" + u32(10) + b"abc"
    with pytest.raises(PgOutputError, match=r"needs 10 bytes at offset 13"):
        decode(payload)


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b"I" + u32(1) + b"K" + KEY, r"expected 'N', got 'K' at offset 5"),
        (b"U" + u32(1) + b"X" + ROW, r"expected 'K' or 'O' or 'N', got 'X' at offset 5"),
        (b"U" + u32(1) + b"K" + KEY + b"K" + ROW, r"expected 'N', got 'K'"),
        (b"D" + u32(1) + b"N" + ROW, r"expected 'K' or 'O', got 'N' at offset 5"),
    ],
)
def test_bad_tuple_markers(payload, problem):
    with pytest.raises(PgOutputError, match=problem):
        decode(payload)


def test_trailing_bytes():
    with pytest.raises(PgOutputError, match=r"Stream Stop \('E'\).*1 unexpected trailing"):
        decode(b"E!")


def test_non_utf8_name():
    with pytest.raises(PgOutputError, match=r"not UTF-8 .* at offset 9"):
        decode(b"O" + u64(1) + b"\xff\xfe\0")


# ---------------------------------------------------------------------------------------
# UNCHANGED, relation cache, value loading


def test_unchanged_sentinel():
    assert Unchanged() is UNCHANGED
    assert pickle.loads(pickle.dumps(UNCHANGED)) is UNCHANGED
    assert repr(UNCHANGED) == "UNCHANGED"
    assert not UNCHANGED
    assert UNCHANGED is not None and UNCHANGED != b""


def test_relation_cache():
    cache = RelationCache()
    assert 16384 not in cache and cache.get(16384) is None
    with pytest.raises(PgOutputError, match="relation id 16384 before its Relation"):
        cache[16384]
    cache.add(RELATION)
    assert cache[16384] is RELATION and len(cache) == 1 and list(cache) == [RELATION]
    newer = Relation(16384, "public", "thing", "f", RELATION.columns)
    cache.add(newer)
    assert cache[16384] is newer
    cache.clear()
    assert len(cache) == 0


LOAD_REL = Relation(
    1,
    "public",
    "t",
    "d",
    (
        Column("id", 23, -1, True),
        Column("n", 1700, -1, False),
        Column("ok", 16, -1, False),
        Column("doc", 3802, -1, False),
        Column("tags", 1009, -1, False),
        Column("big", 25, -1, False),
        Column("raw", 17, -1, False),
    ),
)


def test_row_loader_text_values():
    data = TupleData(
        "tttttnt",
        (b"7", b"12.50", b"t", b'{"a": [1, 2]}', b'{x,"y z"}', None, b"\\x00ff"),
    )
    row = RowLoader(None).load(LOAD_REL, data)
    assert row == {
        "id": 7,
        "n": Decimal("12.50"),
        "ok": True,
        "doc": {"a": [1, 2]},
        "tags": ["x", "y z"],
        "big": None,
        "raw": b"\x00\xff",
    }
    assert load_tuple(LOAD_REL, data, None) == row


def test_row_loader_keeps_unchanged_and_loads_binary():
    data = TupleData("bttnnub", (b"\0\0\0\x07", b"1.5", b"f", None, None, UNCHANGED, b"\x01\x02"))
    row = RowLoader(None).load(LOAD_REL, data)
    assert row["id"] == 7 and row["n"] == Decimal("1.5") and row["ok"] is False
    assert row["doc"] is None and row["big"] is UNCHANGED and row["raw"] == b"\x01\x02"


def test_row_loader_follows_relation_changes():
    loader = RowLoader(None)
    rel = Relation(5, "public", "t", "d", (Column("v", 23, -1, False),))
    assert loader.load(rel, TupleData("t", (b"12",))) == {"v": 12}
    altered = Relation(5, "public", "t", "d", (Column("v", 25, -1, False),))
    assert loader.load(altered, TupleData("t", (b"12",))) == {"v": "12"}
    same = Relation(5, "public", "t", "d", (Column("v", 25, -1, False),))
    assert loader.load(same, TupleData("t", (b"13",))) == {"v": "13"}


def test_row_loader_column_count_mismatch():
    with pytest.raises(PgOutputError, match=r"tuple has 1 columns, relation public.t has 7"):
        RowLoader(None).load(LOAD_REL, TupleData("t", (b"1",)))


def test_stream_session_options_escape_spaces():
    assert "-c DateStyle=ISO,\\ YMD" in STREAM_SESSION_OPTIONS
    assert "-c TimeZone=UTC" in STREAM_SESSION_OPTIONS
