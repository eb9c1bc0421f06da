"""PostgreSQL (psycopg 3) column types → BSON-ready values.

Three pieces, used together by the reader:

* :func:`configure_connection` fixes the session settings the conversions rely on
  (UTC, ISO dates, ISO-8601 intervals, exact floats) and replaces the psycopg loaders
  that would *raise* on legal PostgreSQL values (``infinity`` dates and timestamps,
  BC dates, years after 9999, the time ``24:00:00``) or that lose information
  (intervals with months become "30 days" in psycopg). A raising loader fails the
  whole fetch, so one odd row would stop a table; these loaders return a marker or
  an exact equivalent instead.
* :func:`select_expression` rewrites the SELECT-list entry for the few types that are
  best converted by the server (``money`` → ``numeric``, ranges → text).
* :func:`converter_for` gives the per-column converter, ``None`` when the loaded value
  is already BSON-ready.

``sql_type`` is SQLAlchemy's compiled, lowercased type: ``"numeric(10, 2)"``,
``"timestamp without time zone"``, ``"integer[]"``, or an enum's bare name. Unknown
names fall back to :func:`relmig.source.values.to_bson`.

The loaders only cover the text result format (psycopg's default, and what pgoutput
sends); a binary cursor gets psycopg's stock loaders. The loaders are lossless for every
value Python can hold, so raw key values stay usable for keyset pagination; lossy steps
(millisecond truncation) happen only in the converters.
"""

from __future__ import annotations

import datetime as _dt
import re
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar

from bson.datetime_ms import DatetimeMS
from psycopg import DataError, pq
from psycopg.adapt import Buffer, Loader
from psycopg.types.string import TextLoader

from relmig.source.values import (
    Converter,
    Unconvertible,
    date_to_bson,
    datetime_to_bson,
    decimal_free,
    decimal_to_bson,
    json_to_bson,
    list_of,
    millis_from_fields,
    naive_ms,
    to_bson,
    uuid_to_bson,
)

if TYPE_CHECKING:
    import psycopg
    from psycopg.abc import AdaptContext

__all__ = ["configure_connection", "converter_for", "fetch_all", "select_expression"]

# Session settings every conversion below assumes. extra_float_digits=3 makes float
# output exact on every server version (PG 12+ already prints the shortest exact form
# for any value > 0, but a server default of 0 would round).
SESSION_SETTINGS: tuple[tuple[str, str], ...] = (
    ("TimeZone", "UTC"),
    ("DateStyle", "ISO, YMD"),
    ("IntervalStyle", "iso_8601"),
    ("extra_float_digits", "3"),
)


# ---------------------------------------------------------------------------------------
# Loaders


_DATE_RE = re.compile(
    rb"""^(\d+)-(\d+)-(\d+)
    (?:\ (\d+):(\d+):(\d+)(?:\.(\d+))?)?
    (?:([-+])(\d+)(?::(\d+))?(?::(\d+))?)?
    (\ BC)?$""",
    re.VERBOSE,
)


def _load_out_of_range(data: Buffer, kind: str) -> DatetimeMS | Unconvertible:
    """Infinite → marker; finite but outside Python's years 1..9999 → exact BSON date.

    BSON datetimes are int64 milliseconds, which covers PostgreSQL's whole finite range
    (4713 BC .. 5874897 AD). Reading such values back needs pymongo's
    ``datetime_conversion=DATETIME_AUTO`` (the default raises on decode).
    """
    raw = bytes(data)
    text = raw.decode("ascii", "replace")
    if raw in (b"infinity", b"-infinity"):
        return Unconvertible(f"{kind} is {text}; BSON has no infinite datetime", text)
    m = _DATE_RE.match(raw)
    if m is None:
        return Unconvertible(f"unparseable {kind}", text)
    ye, mo, da, ho, mi, se, fr, sign, oh, om, os_, bc = m.groups()
    year = int(ye)
    if bc:
        year = 1 - year  # astronomical numbering: 1 BC is year 0
    micros = int(fr.ljust(6, b"0")[:6]) if fr else 0
    offset = 0
    if sign:
        offset = int(oh) * 3600 + int(om or 0) * 60 + int(os_ or 0)
        if sign == b"-":
            offset = -offset
    ms = millis_from_fields(
        year, int(mo), int(da), int(ho or 0), int(mi or 0), int(se or 0), micros, offset
    )
    return DatetimeMS(ms)


class _GuardedLoader(Loader):
    """Runs psycopg's own (C-accelerated) loader and catches only its range errors."""

    inner: ClassVar[type[Loader]]
    kind: ClassVar[str]

    def __init__(self, oid: int, context: AdaptContext | None = None):
        super().__init__(oid, context)
        self._load = self.inner(oid, context).load

    def load(self, data: Buffer) -> Any:
        try:
            return self._load(data)
        except DataError:
            return _load_out_of_range(data, self.kind)


class _TimeLoader(Loader):
    """``time`` as ``HH:MM:SS[.ffffff]`` text: ``24:00:00`` is legal in PostgreSQL but not
    in Python, and the target gets a string anyway. Fractions are padded to 6 digits to
    match :func:`relmig.source.values.time_to_str`."""

    def load(self, data: Buffer) -> str:
        text = bytes(data).decode("ascii")
        dot = text.find(".")
        return text if dot < 0 else text[: dot + 1] + text[dot + 1 :].ljust(6, "0")


_TIMETZ_RE = re.compile(r"^([\d:]+)(\.\d+)?([-+])(\d+)(?::(\d+))?(?::(\d+))?$")


class _TimetzLoader(Loader):
    """``timetz`` as ``HH:MM:SS[.ffffff]±HH:MM[:SS]`` (offset spelled like Python's)."""

    def load(self, data: Buffer) -> str:
        text = bytes(data).decode("ascii")
        m = _TIMETZ_RE.match(text)
        if m is None:
            return text
        clock, frac, sign, oh, om, os_ = m.groups()
        frac = frac.ljust(7, "0") if frac else ""
        offset = f"{sign}{oh.zfill(2)}:{(om or '0').zfill(2)}"
        if os_ and int(os_):
            offset += f":{os_.zfill(2)}"
        return clock + frac + offset


def _guarded(name: str, current: type[Loader]) -> type[Loader]:
    if issubclass(current, _GuardedLoader):  # configured twice: keep the original inner
        current = current.inner
    return type(f"Guarded{name.title()}Loader", (_GuardedLoader,), {"inner": current, "kind": name})


_GUARDED_TYPES = ("date", "timestamp", "timestamptz")


def configure_connection(conn: psycopg.Connection[Any]) -> None:
    """Prepare a psycopg 3 connection for reading source rows (call right after connect).

    Sets :data:`SESSION_SETTINGS` and registers this module's text loaders on the
    connection only. If no transaction was open, the settings are committed so a later
    rollback cannot undo them.
    """
    adapters = conn.adapters
    for name in _GUARDED_TYPES:
        oid = adapters.types[name].oid
        current = adapters.get_loader(oid, pq.Format.TEXT)
        assert current is not None
        adapters.register_loader(name, _guarded(name, current))
    adapters.register_loader("time", _TimeLoader)
    adapters.register_loader("timetz", _TimetzLoader)
    # PostgreSQL's own text is the faithful form: ISO-8601 duration (months kept), and
    # inet/cidr exactly as psql shows them ('10.0.0.1', '10.0.0.0/8').
    for name in ("interval", "inet", "cidr"):
        adapters.register_loader(name, TextLoader)

    was_idle = conn.info.transaction_status == pq.TransactionStatus.IDLE
    assignments = ", ".join(f"set_config('{k}', '{v}', false)" for k, v in SESSION_SETTINGS)
    conn.execute(f"SELECT {assignments}")
    if was_idle and not conn.autocommit:
        conn.commit()


def fetch_all(cur: psycopg.Cursor[Any]) -> list[Any]:
    """The rows of an executed query, loaded by psycopg's own C loaders where they can.

    The guarded loaders cost a Python call per date or timestamp value, for values that are
    almost never out of Python's range. So the cursor first loads with the stock loaders
    they wrap, and only when one of them raises are the guarded ones put back and the same
    result loaded again (psycopg reloads a fetched result when a cursor's loaders change):
    the rows are exactly what the guarded loaders give, at the stock loaders' speed.
    """
    adapters = cur.adapters
    guarded = [adapters.get_loader(adapters.types[n].oid, pq.Format.TEXT) for n in _GUARDED_TYPES]
    for name, loader in zip(_GUARDED_TYPES, guarded, strict=True):
        if loader is not None and issubclass(loader, _GuardedLoader):
            adapters.register_loader(name, loader.inner)
    try:
        return cur.fetchall()
    except DataError:
        for name, loader in zip(_GUARDED_TYPES, guarded, strict=True):
            if loader is not None:
                adapters.register_loader(name, loader)
        return cur.fetchall()


# ---------------------------------------------------------------------------------------
# Type names


_TYPMOD_RE = re.compile(r"\([^)]*\)")
_SPACES_RE = re.compile(r"\s+")

_RANGES = frozenset(
    f"{base}{kind}"
    for base in ("int4", "int8", "num", "ts", "tstz", "date")
    for kind in ("range", "multirange")
)

# Integer and boolean types: loaded as Python ints and bools that BSON takes as they are.
_INTEGERS = frozenset(
    {
        "smallint",
        "integer",
        "bigint",
        "int",
        "int2",
        "int4",
        "int8",
        "smallserial",
        "serial",
        "bigserial",
        "oid",
        "boolean",
        "bool",
    }
)

# Character types: loaded as Python str (PostgreSQL text cannot hold NUL).
_TEXTS = frozenset(
    {
        "text",
        "varchar",
        "character varying",
        "char",
        "character",
        "bpchar",
    }
)

# Types whose loaded value is already BSON-ready (or a str from the loaders above).
_IDENTITY = frozenset(
    {
        *_INTEGERS,
        "real",
        "float",
        "float4",
        "float8",
        "double precision",
        *_TEXTS,
        '"char"',
        "name",
        "citext",
        "bytea",
        "bit",
        "bit varying",
        "varbit",
        "time",
        "time without time zone",
        "time with time zone",
        "timetz",
        "interval",
        "inet",
        "cidr",
        "macaddr",
        "macaddr8",
        "xml",
        "tsvector",
        "tsquery",
        "pg_lsn",
        "point",
        "line",
        "lseg",
        "box",
        "path",
        "polygon",
        "circle",
        *_RANGES,
    }
)


def _split(sql_type: str) -> tuple[str, int]:
    """``"numeric(10, 2)[]"`` → ``("numeric", 1)``: base name without typmods, array depth.

    SQLAlchemy spells every array as a single ``[]`` whatever its dimensions (the catalog
    does not enforce them), so the depth is informational only.
    """
    text = sql_type.strip().lower()
    depth = 0
    while text.endswith("[]"):
        text = text[:-2].rstrip()
        depth += 1
    text = _SPACES_RE.sub(" ", _TYPMOD_RE.sub("", text)).strip()
    if text.startswith("interval"):  # interval day to second, interval(3), ...
        text = "interval"
    return text, depth


def select_expression(sql_type: str, quoted_column: str) -> str:
    """The SELECT-list expression for a column (no alias: the reader adds its own).

    ``money`` is locale-formatted text (``$1,234.56``) on the wire, so it is cast to
    numeric; range types are cast to their canonical text (``[1,10)``) because
    psycopg's Range objects have no BSON form; arrays of types psycopg does not know
    (enums, composites) are cast to ``text[]`` so they arrive as lists of strings.
    """
    base, depth = _split(sql_type)
    suffix = "[]" if depth else ""
    if base == "money":
        return f"{quoted_column}::numeric{suffix}"
    if base in _RANGES:
        return f"{quoted_column}::text{suffix}"
    if depth and base not in _IDENTITY and base not in _SCALAR:
        # psycopg cannot split arrays of types it has no loader for (enums, domains,
        # composites): it would return the raw '{a,b}' literal as one string.
        return f"{quoted_column}::text[]"
    return quoted_column


# The column converters below pass None, markers and DatetimeMS (from the loaders)
# through unchanged.

_UTC = _dt.UTC


@decimal_free
def _date(value: Any) -> Any:
    return date_to_bson(value) if type(value) is _dt.date else value


@decimal_free
def _datetime(value: Any) -> Any:
    if type(value) is _dt.datetime:
        if value.tzinfo is _UTC:  # every timestamptz: the session runs in UTC
            return naive_ms(value)
        return datetime_to_bson(value)
    return value


def _decimal(value: Any) -> Any:
    return decimal_to_bson(value) if type(value) is Decimal else value


@decimal_free
def _uuid(value: Any) -> Any:
    return uuid_to_bson(value) if value is not None else None


def _json(value: Any) -> Any:
    return json_to_bson(value)


def _generic(value: Any) -> Any:
    return to_bson(value)


_SCALAR: dict[str, Converter] = {
    "numeric": _decimal,
    "decimal": _decimal,
    "money": _decimal,
    "date": _date,
    "timestamp": _datetime,
    "timestamp without time zone": _datetime,
    "timestamp with time zone": _datetime,
    "timestamptz": _datetime,
    "uuid": _uuid,
    "json": _json,
    "jsonb": _json,
}


# Types whose document values every target stores as they are: ints of at most 64 bits,
# booleans, strings (PostgreSQL text cannot hold NUL), byte strings, dates (a datetime, a
# DatetimeMS or a marker the builder takes out) and UUIDs (Binary).
_PLAIN = frozenset(
    {
        *_INTEGERS,
        *_TEXTS,
        "name",
        "citext",
        "bytea",
        "date",
        "timestamp",
        "timestamp without time zone",
        "timestamp with time zone",
        "timestamptz",
        "time",
        "time without time zone",
        "time with time zone",
        "timetz",
        "interval",
        "uuid",
    }
)
_EXACT_NUMBERS = frozenset({"numeric", "decimal", "money"})


def plain_values(sql_type: str, decimals: str) -> bool:
    """See :meth:`relmig.source.sql.SqlSource.plain_values`; exact numbers only as strings."""
    base, depth = _split(sql_type)
    if depth:
        return False
    if base in _EXACT_NUMBERS:
        return decimals == "string"
    return base in _PLAIN


@lru_cache(maxsize=512)
def converter_for(sql_type: str) -> Converter | None:
    """Per-column converter, or ``None`` when the loaded values need no conversion."""
    base, depth = _split(sql_type)
    if base in _IDENTITY:
        return None
    scalar = _SCALAR.get(base, _generic)
    return list_of(scalar) if depth else scalar
