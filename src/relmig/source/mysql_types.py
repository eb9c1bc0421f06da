"""MySQL / MariaDB (PyMySQL, default conversions) column types → BSON-ready values.

``sql_type`` is SQLAlchemy's compiled, lowercased type, e.g. ``"integer(11)"``,
``"bigint(20) unsigned"``, ``"tinyint(1)"``, ``"decimal(10, 2)"``, ``"datetime(6)"``,
``"enum('a','b')"``, ``"set('x','y')"``, ``"bit(8)"``, ``"json"``.

Decisions (see docs/type-mapping.md for the full table):

* ``tinyint(1)`` (what ``BOOLEAN`` creates) and ``bit(1)`` become booleans; a
  ``tinyint(1)`` holding anything but 0/1 keeps its integer value rather than being
  squashed to ``true``.
* Zero and invalid dates (``'0000-00-00'``, ``'2024-02-30'`` under permissive SQL
  modes), which PyMySQL returns as strings, become :class:`Unconvertible`: turning them
  into ``null`` would invent a value, so the job's error policy decides.
* ``json`` is parsed. MariaDB stores JSON as ``LONGTEXT`` with a ``json_valid`` check,
  and SQLAlchemy reports such a column as ``"longtext"``; it is copied as a string
  unless the caller passes ``"json"`` for it.
* ``CHAR(36)``/``BINARY(16)`` UUIDs stay strings/binary: nothing is guessed from
  lengths. MariaDB's native ``UUID`` type becomes Binary subtype 4, like PostgreSQL's.
* Spatial columns are read as GeoJSON (``ST_AsGeoJSON``) and stored as sub-documents,
  the form MongoDB's geospatial indexes use.

DATETIME is taken as UTC and TIMESTAMP is rendered in the session time zone, so the
reader must set ``time_zone = '+00:00'`` on its session.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import uuid
from decimal import Decimal
from functools import lru_cache
from typing import Any

from relmig.source.values import (
    INT64_MAX,
    Converter,
    Unconvertible,
    date_to_bson,
    datetime_to_bson,
    decimal_free,
    decimal_to_bson,
    int_to_bson,
    json_to_bson,
    timedelta_to_time_str,
    to_bson,
    uuid_to_bson,
)

__all__ = ["converter_for", "select_expression"]

_BASE_RE = re.compile(r"^\s*([a-z_]+)\s*(?:\(([^)]*)\))?(.*)$", re.DOTALL)

_SPATIAL = frozenset(
    {
        "geometry",
        "point",
        "linestring",
        "polygon",
        "multipoint",
        "multilinestring",
        "multipolygon",
        "geometrycollection",
        "geomcollection",
    }
)

# Driver values already BSON-ready: ints that fit int64, floats, str, bytes.
_IDENTITY = frozenset(
    {
        "tinyint",
        "smallint",
        "mediumint",
        "int",
        "integer",
        "year",
        "float",
        "double",
        "real",
        "char",
        "varchar",
        "nchar",
        "nvarchar",
        "national",
        "tinytext",
        "text",
        "mediumtext",
        "longtext",
        "enum",
        "binary",
        "varbinary",
        "tinyblob",
        "blob",
        "mediumblob",
        "longblob",
        "inet4",
        "inet6",
    }
)


def _split(sql_type: str) -> tuple[str, str, str]:
    """``"bigint(20) unsigned"`` → ``("bigint", "20", "unsigned")``."""
    m = _BASE_RE.match(sql_type.lower())
    if m is None:
        return sql_type.strip().lower(), "", ""
    base, args, rest = m.groups()
    return base, (args or "").strip(), rest.strip()


def select_expression(sql_type: str, quoted_column: str) -> str:
    """The SELECT-list expression for a column (no alias: the reader adds its own)."""
    base, _, _ = _split(sql_type)
    if base in _SPATIAL:
        return f"ST_AsGeoJSON({quoted_column})"
    return quoted_column


def _bad_temporal(value: str, kind: str) -> Unconvertible:
    if value.startswith("0000-00-00"):
        return Unconvertible(f"MySQL zero {kind} has no BSON equivalent", value)
    return Unconvertible(f"invalid MySQL {kind} (stored under a permissive sql_mode)", value)


@decimal_free
def _date(value: Any) -> Any:
    t = type(value)
    if t is _dt.date:
        return date_to_bson(value)
    if t is str:
        return _bad_temporal(value, "date")
    return value


@decimal_free
def _datetime(value: Any) -> Any:
    t = type(value)
    if t is _dt.datetime:
        return datetime_to_bson(value)
    if t is str:
        return _bad_temporal(value, "datetime")
    return value


@decimal_free
def _time(value: Any) -> Any:
    t = type(value)
    if t is _dt.timedelta:
        return timedelta_to_time_str(value)
    if t is str:
        return Unconvertible("unparseable MySQL time", value)
    return value


def _decimal(value: Any) -> Any:
    return decimal_to_bson(value) if type(value) is Decimal else value


def _uint64(value: Any) -> Any:
    return int_to_bson(value) if type(value) is int and value > INT64_MAX else value


@decimal_free
def _tinyint_bool(value: Any) -> Any:
    if value == 0 or value == 1:
        return value == 1
    return value


def _bit(value: Any) -> Any:
    if type(value) is bytes:
        number = int.from_bytes(value, "big")
        return number if number <= INT64_MAX else int_to_bson(number)
    return value


@decimal_free
def _bit1(value: Any) -> Any:
    if type(value) is bytes:
        return value != b"\x00"
    return value


@decimal_free
def _set(value: Any) -> Any:
    if type(value) is str:
        return value.split(",") if value else []
    return value


def _json(value: Any) -> Any:
    if type(value) is not str:
        return json_to_bson(value) if value is not None else None
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        return Unconvertible(f"invalid JSON: {exc}", value[:200])
    return json_to_bson(parsed)


@decimal_free
def _uuid(value: Any) -> Any:
    """MariaDB's native UUID type (not CHAR(36)): Binary subtype 4, as for PostgreSQL."""
    if type(value) is str:
        try:
            return uuid_to_bson(uuid.UUID(value))
        except ValueError:
            return Unconvertible("invalid UUID text", value)
    return value


def _generic(value: Any) -> Any:
    return to_bson(value)


_SCALAR: dict[str, Converter] = {
    "decimal": _decimal,
    "numeric": _decimal,
    "dec": _decimal,
    "fixed": _decimal,
    "date": _date,
    "datetime": _datetime,
    "timestamp": _datetime,
    "time": _time,
    "json": _json,
    "set": _set,
    "uuid": _uuid,
    "bool": _tinyint_bool,
    "boolean": _tinyint_bool,
    **dict.fromkeys(_SPATIAL, _json),
}


# Types whose document values every target stores as they are: signed ints (at most 64
# bits), years, dates and times (a datetime, a string or a marker the builder takes out).
# Not strings: MySQL text may hold NUL characters.
_PLAIN = frozenset({"tinyint", "smallint", "mediumint", "int", "integer", "year", "date"})
_PLAIN |= {"datetime", "timestamp", "time"}
_EXACT_NUMBERS = frozenset({"decimal", "numeric", "dec", "fixed"})


def plain_values(sql_type: str, decimals: str) -> bool:
    """See :meth:`relmig.source.sql.SqlSource.plain_values`; exact numbers only as strings."""
    base, _, rest = _split(sql_type)
    if base in _EXACT_NUMBERS:
        return decimals == "string"
    if base == "bigint":
        return "unsigned" not in rest
    return base in _PLAIN


@lru_cache(maxsize=512)
def converter_for(sql_type: str) -> Converter | None:
    """Per-column converter, or ``None`` when PyMySQL's values need no conversion."""
    base, args, rest = _split(sql_type)
    if base == "tinyint" and args == "1":
        return _tinyint_bool
    if base == "bit":
        return _bit1 if args in ("", "1") else _bit
    if base in ("bigint", "serial") and ("unsigned" in rest or base == "serial"):
        return _uint64
    if base == "bigint":
        return None
    if base in _IDENTITY:
        return None
    return _SCALAR.get(base, _generic)
