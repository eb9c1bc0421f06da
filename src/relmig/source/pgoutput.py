"""Decoder for PostgreSQL's built-in ``pgoutput`` logical replication messages.

No maintained decoder exists on PyPI (DESIGN-NOTES §4), and the protocol is small, so
this module decodes it directly: the ``payload`` bytes of a psycopg2
``ReplicationMessage`` (``decode=False``) become frozen dataclasses. Protocol versions 1
and 2 are covered, including v2's streamed (in-progress) transactions.

Decoding is pure and stateless except for one bit: inside a stream (between Stream Start
'S' and Stream Stop 'E') the data messages carry an extra xid. :class:`Decoder` tracks
that bit; :func:`decode` takes it as a flag. That xid is the (sub)transaction that made
the change, not always the top-level one from 'S': a Stream Abort with ``subxid != xid``
drops only the changes carrying ``subxid``.

Tuple values stay raw bytes here (``t`` text, ``b`` binary); :class:`RowLoader` turns them
into Python values with psycopg 3's adapters, so CDC rows are the *same* objects the
snapshot reader gets. An unchanged TOASTed value (``u``) is the :data:`UNCHANGED`
sentinel, never a value: the change does not say what it is.

The stream connection must use the same session settings as the snapshot reader
(:data:`relmig.source.postgres_types.SESSION_SETTINGS`), because the server formats text
values with the walsender's own ``DateStyle``, ``IntervalStyle`` etc.; pass
:data:`STREAM_SESSION_OPTIONS` as the libpq ``options`` of the replication connection.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from struct import Struct
from typing import TYPE_CHECKING, Any, Final, Literal, final

from psycopg.adapt import Transformer
from psycopg.pq import Format

from relmig.errors import SourceError
from relmig.source.postgres_types import SESSION_SETTINGS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from psycopg.abc import AdaptContext

__all__ = [
    "STREAM_SESSION_OPTIONS",
    "UNCHANGED",
    "Begin",
    "Column",
    "Commit",
    "Decoder",
    "Delete",
    "Insert",
    "LogicalMessage",
    "Message",
    "Origin",
    "PgOutputError",
    "Relation",
    "RelationCache",
    "RowLoader",
    "StreamAbort",
    "StreamCommit",
    "StreamStart",
    "StreamStop",
    "Truncate",
    "TupleData",
    "Type",
    "Unchanged",
    "Update",
    "decode",
    "load_tuple",
    "pg_timestamp",
]


def _libpq_option(value: str) -> str:
    return value.replace("\\", "\\\\").replace(" ", "\\ ")


# libpq ``options`` for the replication connection: the walsender formats text values
# with these settings, and relmig's loaders expect exactly what the snapshot session sees.
STREAM_SESSION_OPTIONS: Final[str] = " ".join(
    f"-c {name}={_libpq_option(value)}" for name, value in SESSION_SETTINGS
)


class PgOutputError(SourceError):
    """A pgoutput payload that cannot be decoded (unknown type, truncated, malformed)."""


@final
class Unchanged:
    """Type of :data:`UNCHANGED`: a TOASTed column the change did not touch or send."""

    __slots__ = ()
    _instance: Unchanged | None = None

    def __new__(cls) -> Unchanged:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNCHANGED"

    def __reduce__(self) -> str:
        return "UNCHANGED"

    def __bool__(self) -> bool:
        return False


UNCHANGED: Final = Unchanged()


# PostgreSQL timestamps are microseconds since 2000-01-01 UTC.
_PG_EPOCH: Final = _dt.datetime(2000, 1, 1, tzinfo=_dt.UTC)


def pg_timestamp(micros: int) -> _dt.datetime:
    """An on-wire ``TimestampTz`` as an aware UTC datetime."""
    return _PG_EPOCH + _dt.timedelta(microseconds=micros)


# ---------------------------------------------------------------------------------------
# Messages


@dataclass(frozen=True, slots=True)
class TupleData:
    """One row image. ``kinds`` has one letter per column: ``n`` null, ``u`` unchanged
    TOAST, ``t`` text, ``b`` binary. ``values`` holds None, :data:`UNCHANGED` or the raw
    bytes (text or binary, as ``kinds`` says)."""

    kinds: str
    values: tuple[bytes | Unchanged | None, ...]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type_oid: int
    type_modifier: int  # -1 when the type has none
    key: bool  # part of the replica identity (primary key, or every column for FULL)


@dataclass(frozen=True, slots=True)
class Begin:
    final_lsn: int
    commit_time: _dt.datetime
    xid: int


@dataclass(frozen=True, slots=True)
class Commit:
    flags: int
    commit_lsn: int
    end_lsn: int  # acknowledge this one (send_feedback(flush_lsn=end_lsn))
    commit_time: _dt.datetime


@dataclass(frozen=True, slots=True)
class Origin:
    commit_lsn: int  # the commit LSN on the origin server
    name: str


@dataclass(frozen=True, slots=True)
class Relation:
    """Table description; sent before its first change on each connection (LSN 0/0)."""

    relation_id: int
    namespace: str
    name: str
    replica_identity: str  # 'd' default, 'n' nothing, 'f' full, 'i' index
    columns: tuple[Column, ...]
    xid: int | None = None  # only inside a stream: the (sub)transaction's xid


@dataclass(frozen=True, slots=True)
class Type:
    """Name of a non-builtin type (enum, domain, ...) used by a following Relation."""

    type_oid: int
    namespace: str
    name: str
    xid: int | None = None


@dataclass(frozen=True, slots=True)
class Insert:
    relation_id: int
    new: TupleData
    xid: int | None = None


@dataclass(frozen=True, slots=True)
class Update:
    """``old`` is None, the key columns ('K', others null) or the whole old row ('O').

    Even with ``old`` the whole row ('O', REPLICA IDENTITY FULL), ``new`` has
    :data:`UNCHANGED` for untouched TOAST columns; their value is in ``old``.
    """

    relation_id: int
    new: TupleData
    old: TupleData | None = None
    old_kind: Literal["K", "O"] | None = None
    xid: int | None = None


@dataclass(frozen=True, slots=True)
class Delete:
    relation_id: int
    old: TupleData
    old_kind: Literal["K", "O"]
    xid: int | None = None


@dataclass(frozen=True, slots=True)
class Truncate:
    relation_ids: tuple[int, ...]
    cascade: bool
    restart_identity: bool
    xid: int | None = None


@dataclass(frozen=True, slots=True)
class LogicalMessage:
    """``pg_logical_emit_message``; non-transactional ones arrive outside Begin/Commit."""

    transactional: bool
    lsn: int
    prefix: str
    content: bytes
    xid: int | None = None


@dataclass(frozen=True, slots=True)
class StreamStart:
    xid: int
    first_segment: bool


@dataclass(frozen=True, slots=True)
class StreamStop:
    pass


@dataclass(frozen=True, slots=True)
class StreamCommit:
    xid: int
    flags: int
    commit_lsn: int
    end_lsn: int
    commit_time: _dt.datetime


@dataclass(frozen=True, slots=True)
class StreamAbort:
    """Abort of a streamed transaction (``subxid == xid``: drop everything buffered for
    it) or of one subtransaction (drop the changes whose ``xid`` is ``subxid``).

    ``abort_lsn``/``abort_time`` are only sent with protocol v4 (``streaming 'parallel'``).
    """

    xid: int
    subxid: int
    abort_lsn: int | None = None
    abort_time: _dt.datetime | None = None


Message = (
    Begin
    | Commit
    | Origin
    | Relation
    | Type
    | Insert
    | Update
    | Delete
    | Truncate
    | LogicalMessage
    | StreamStart
    | StreamStop
    | StreamCommit
    | StreamAbort
)

_NAMES: Final = {
    "B": "Begin",
    "C": "Commit",
    "O": "Origin",
    "R": "Relation",
    "Y": "Type",
    "I": "Insert",
    "U": "Update",
    "D": "Delete",
    "T": "Truncate",
    "M": "Message",
    "S": "Stream Start",
    "E": "Stream Stop",
    "c": "Stream Commit",
    "A": "Stream Abort",
}


# ---------------------------------------------------------------------------------------
# Decoding

_U8 = Struct(">B")
_U16 = Struct(">H")
_U32 = Struct(">I")
_BEGIN = Struct(">QqI")  # final LSN, commit time, xid
_COMMIT = Struct(">BQQq")  # flags, commit LSN, end LSN, commit time
_LSN = Struct(">Q")
_COLUMN = Struct(">Ii")  # type OID, type modifier
_TRUNCATE = Struct(">IB")  # relation count, options
_MESSAGE = Struct(">BQ")  # flags, LSN
_STREAM_START = Struct(">IB")  # xid, first segment
_STREAM_COMMIT = Struct(">IBQQq")  # xid, flags, commit LSN, end LSN, commit time
_STREAM_ABORT = Struct(">II")  # xid, subxid
_STREAM_ABORT_V4 = Struct(">IIQq")  # ... abort LSN, abort time

_TRUNCATE_CASCADE = 1
_TRUNCATE_RESTART_IDENTITY = 2


class _Reader:
    """Bounds-checked cursor over one payload; errors name the message and offset."""

    __slots__ = ("buf", "kind", "pos")

    def __init__(self, buf: bytes, kind: str) -> None:
        self.buf = buf
        self.kind = kind
        self.pos = 1

    def fail(self, problem: str, at: int | None = None) -> PgOutputError:
        name = _NAMES.get(self.kind, "unknown")
        where = self.pos if at is None else at
        return PgOutputError(
            f"pgoutput {name} ({self.kind!r}) message: {problem} at offset {where} "
            f"(payload is {len(self.buf)} bytes)"
        )

    def take(self, st: Struct) -> tuple[Any, ...]:
        pos = self.pos
        end = pos + st.size
        if end > len(self.buf):
            raise self.fail(f"truncated, needs {st.size} bytes")
        self.pos = end
        return st.unpack_from(self.buf, pos)

    def u8(self) -> int:
        pos = self.pos
        if pos >= len(self.buf):
            raise self.fail("truncated, needs 1 byte")
        self.pos = pos + 1
        return self.buf[pos]

    def u32(self) -> int:
        return self.take(_U32)[0]

    def raw(self, size: int) -> bytes:
        pos = self.pos
        end = pos + size
        if end > len(self.buf):
            raise self.fail(f"truncated, needs {size} bytes")
        self.pos = end
        return self.buf[pos:end]

    def string(self) -> str:
        pos = self.pos
        end = self.buf.find(b"\0", pos)
        if end < 0:
            raise self.fail("truncated, unterminated string")
        self.pos = end + 1
        try:
            return self.buf[pos:end].decode()
        except UnicodeDecodeError as exc:
            raise self.fail(f"string is not UTF-8 ({exc.reason})", pos) from None

    def tuple_data(self) -> TupleData:
        """TupleData: Int16 count, then per column a kind byte (+ Int32 length + bytes)."""
        (count,) = self.take(_U16)
        buf, pos, size = self.buf, self.pos, len(self.buf)
        kinds: list[str] = []
        values: list[bytes | Unchanged | None] = []
        unpack = _U32.unpack_from
        for _ in range(count):
            if pos >= size:
                self.pos = pos
                raise self.fail("truncated tuple data, needs 1 byte")
            kind = buf[pos]
            pos += 1
            if kind in (0x74, 0x62):  # 't', 'b'
                if pos + 4 > size:
                    self.pos = pos
                    raise self.fail("truncated tuple data, needs 4 bytes")
                (length,) = unpack(buf, pos)
                pos += 4
                end = pos + length
                if end > size:
                    self.pos = pos
                    raise self.fail(f"truncated tuple data, needs {length} bytes")
                values.append(buf[pos:end])
                pos = end
            elif kind == 0x6E:  # 'n'
                values.append(None)
            elif kind == 0x75:  # 'u'
                values.append(UNCHANGED)
            else:
                raise self.fail(f"unknown tuple column kind {chr(kind)!r}", pos - 1)
            kinds.append(chr(kind))
        self.pos = pos
        return TupleData("".join(kinds), tuple(values))

    def marker(self, allowed: bytes) -> str:
        at = self.pos
        marker = self.u8()
        if marker not in allowed:
            expected = " or ".join(repr(chr(c)) for c in allowed)
            raise self.fail(f"expected {expected}, got {chr(marker)!r}", at)
        return chr(marker)

    def done(self) -> None:
        if self.pos != len(self.buf):
            raise self.fail(
                f"{len(self.buf) - self.pos} unexpected trailing bytes (stream state wrong?)"
            )


def _xid(r: _Reader, streamed: bool) -> int | None:
    return r.u32() if streamed else None


def _begin(r: _Reader, streamed: bool) -> Begin:
    final_lsn, ts, xid = r.take(_BEGIN)
    return Begin(final_lsn, pg_timestamp(ts), xid)


def _commit(r: _Reader, streamed: bool) -> Commit:
    flags, commit_lsn, end_lsn, ts = r.take(_COMMIT)
    return Commit(flags, commit_lsn, end_lsn, pg_timestamp(ts))


def _origin(r: _Reader, streamed: bool) -> Origin:
    (lsn,) = r.take(_LSN)
    return Origin(lsn, r.string())


def _relation(r: _Reader, streamed: bool) -> Relation:
    xid = _xid(r, streamed)
    relation_id = r.u32()
    namespace = r.string()
    name = r.string()
    identity = chr(r.u8())
    (count,) = r.take(_U16)
    columns = []
    for _ in range(count):
        flags = r.u8()
        col_name = r.string()
        type_oid, typmod = r.take(_COLUMN)
        columns.append(Column(col_name, type_oid, typmod, bool(flags & 1)))
    return Relation(relation_id, namespace, name, identity, tuple(columns), xid)


def _type(r: _Reader, streamed: bool) -> Type:
    xid = _xid(r, streamed)
    type_oid = r.u32()
    namespace = r.string()
    return Type(type_oid, namespace, r.string(), xid)


def _insert(r: _Reader, streamed: bool) -> Insert:
    xid = _xid(r, streamed)
    relation_id = r.u32()
    r.marker(b"N")
    return Insert(relation_id, r.tuple_data(), xid)


def _update(r: _Reader, streamed: bool) -> Update:
    xid = _xid(r, streamed)
    relation_id = r.u32()
    marker = r.marker(b"KON")
    if marker == "N":
        return Update(relation_id, r.tuple_data(), None, None, xid)
    old = r.tuple_data()
    r.marker(b"N")
    return Update(relation_id, r.tuple_data(), old, marker, xid)  # type: ignore[arg-type]


def _delete(r: _Reader, streamed: bool) -> Delete:
    xid = _xid(r, streamed)
    relation_id = r.u32()
    marker = r.marker(b"KO")
    return Delete(relation_id, r.tuple_data(), marker, xid)  # type: ignore[arg-type]


def _truncate(r: _Reader, streamed: bool) -> Truncate:
    xid = _xid(r, streamed)
    count, options = r.take(_TRUNCATE)
    ids = Struct(f">{count}I")
    return Truncate(
        r.take(ids),
        bool(options & _TRUNCATE_CASCADE),
        bool(options & _TRUNCATE_RESTART_IDENTITY),
        xid,
    )


def _message(r: _Reader, streamed: bool) -> LogicalMessage:
    xid = _xid(r, streamed)
    flags, lsn = r.take(_MESSAGE)
    prefix = r.string()
    content = r.raw(r.u32())
    return LogicalMessage(bool(flags & 1), lsn, prefix, content, xid)


def _stream_start(r: _Reader, streamed: bool) -> StreamStart:
    xid, first = r.take(_STREAM_START)
    return StreamStart(xid, first == 1)


def _stream_stop(r: _Reader, streamed: bool) -> StreamStop:
    return _STREAM_STOP


def _stream_commit(r: _Reader, streamed: bool) -> StreamCommit:
    xid, flags, commit_lsn, end_lsn, ts = r.take(_STREAM_COMMIT)
    return StreamCommit(xid, flags, commit_lsn, end_lsn, pg_timestamp(ts))


def _stream_abort(r: _Reader, streamed: bool) -> StreamAbort:
    if len(r.buf) - r.pos >= _STREAM_ABORT_V4.size:
        xid, subxid, lsn, ts = r.take(_STREAM_ABORT_V4)
        return StreamAbort(xid, subxid, lsn, pg_timestamp(ts))
    xid, subxid = r.take(_STREAM_ABORT)
    return StreamAbort(xid, subxid)


_STREAM_STOP: Final = StreamStop()

_DECODERS: Final[dict[int, Callable[[_Reader, bool], Message]]] = {
    ord("B"): _begin,
    ord("C"): _commit,
    ord("O"): _origin,
    ord("R"): _relation,
    ord("Y"): _type,
    ord("I"): _insert,
    ord("U"): _update,
    ord("D"): _delete,
    ord("T"): _truncate,
    ord("M"): _message,
    ord("S"): _stream_start,
    ord("E"): _stream_stop,
    ord("c"): _stream_commit,
    ord("A"): _stream_abort,
}


def decode(payload: bytes | bytearray | memoryview, *, in_stream: bool = False) -> Message:
    """Decode one pgoutput message. ``in_stream``: between Stream Start and Stream Stop,
    where R, Y, I, U, D, T and M carry the streamed transaction's xid."""
    buf = payload if type(payload) is bytes else bytes(payload)
    if not buf:
        raise PgOutputError("pgoutput: empty message at offset 0")
    func = _DECODERS.get(buf[0])
    if func is None:
        raise PgOutputError(
            f"pgoutput: unknown message type {chr(buf[0])!r} (0x{buf[0]:02x}) at offset 0"
        )
    reader = _Reader(buf, chr(buf[0]))
    message = func(reader, in_stream)
    reader.done()
    return message


class Decoder:
    """:func:`decode` plus the one bit of state: whether we are inside a stream block."""

    __slots__ = ("in_stream",)

    def __init__(self) -> None:
        self.in_stream = False

    def decode(self, payload: bytes | bytearray | memoryview) -> Message:
        message = decode(payload, in_stream=self.in_stream)
        cls = type(message)
        if cls is StreamStart:
            self.in_stream = True
        elif cls is StreamStop:
            self.in_stream = False
        return message


# ---------------------------------------------------------------------------------------
# Relations and values


class RelationCache:
    """Relation id → latest :class:`Relation`. Changes refer to tables by id only, and a
    Relation message precedes a table's first change on every connection and after any
    schema change, so the latest one always describes the next tuple."""

    __slots__ = ("_relations",)

    def __init__(self) -> None:
        self._relations: dict[int, Relation] = {}

    def add(self, relation: Relation) -> None:
        self._relations[relation.relation_id] = relation

    def __getitem__(self, relation_id: int) -> Relation:
        try:
            return self._relations[relation_id]
        except KeyError:
            raise PgOutputError(
                f"pgoutput: change for relation id {relation_id} before its Relation message"
            ) from None

    def get(self, relation_id: int) -> Relation | None:
        return self._relations.get(relation_id)

    def __contains__(self, relation_id: object) -> bool:
        return relation_id in self._relations

    def __len__(self) -> int:
        return len(self._relations)

    def __iter__(self) -> Iterator[Relation]:
        return iter(self._relations.values())

    def clear(self) -> None:
        self._relations.clear()


class RowLoader:
    """Tuple → ``{column: value}`` through psycopg 3's loaders of ``context``.

    ``context`` is a psycopg 3 connection prepared with
    :func:`relmig.source.postgres_types.configure_connection`, so values match what the
    snapshot reader gets for the same row (None: psycopg's global adapters). The stream
    and ``context`` must share a client encoding (both default to the database's). One
    Transformer per relation keeps the loader lookup out of the per-row path.
    """

    __slots__ = ("_context", "_relations")

    def __init__(self, context: AdaptContext | None) -> None:
        self._context = context
        self._relations: dict[int, tuple[Relation, Transformer, tuple[str, ...]]] = {}

    def _prepare(self, relation: Relation) -> tuple[Relation, Transformer, tuple[str, ...]]:
        entry = self._relations.get(relation.relation_id)
        if entry is not None and (entry[0] is relation or entry[0] == relation):
            return entry
        transformer = Transformer(self._context)
        transformer.set_loader_types([c.type_oid for c in relation.columns], Format.TEXT)
        entry = (relation, transformer, tuple(c.name for c in relation.columns))
        self._relations[relation.relation_id] = entry
        return entry

    def load(self, relation: Relation, data: TupleData) -> dict[str, Any]:
        """None and :data:`UNCHANGED` pass through; text and binary values are loaded."""
        _, transformer, names = self._prepare(relation)
        values = data.values
        if len(values) != len(names):
            raise PgOutputError(
                f"pgoutput: tuple has {len(values)} columns, relation "
                f"{relation.namespace}.{relation.name} has {len(names)}"
            )
        kinds = data.kinds
        if "u" not in kinds and "b" not in kinds:
            return dict(zip(names, transformer.load_sequence(values), strict=True))
        text = [v if k == "t" else None for k, v in zip(kinds, values, strict=True)]
        loaded = list(transformer.load_sequence(text))
        for i, kind in enumerate(kinds):
            if kind == "u":
                loaded[i] = UNCHANGED
            elif kind == "b":
                oid = relation.columns[i].type_oid
                loaded[i] = transformer.get_loader(oid, Format.BINARY).load(values[i])
        return dict(zip(names, loaded, strict=True))


def load_tuple(relation: Relation, data: TupleData, context: AdaptContext | None) -> dict[str, Any]:
    """One-off :meth:`RowLoader.load`; keep a :class:`RowLoader` for a stream."""
    return RowLoader(context).load(relation, data)
