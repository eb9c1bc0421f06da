"""Dialect-neutral conversion of driver values into BSON-ready Python values.

Everything here runs once per value of every migrated row, so the common cases are
dispatched on the exact ``type()`` and the per-column converter factories in
``postgres_types``/``mysql_types`` return ``None`` (no call at all) for columns whose
driver values are already BSON-ready.

Contract shared with the document builder:

* A value that BSON cannot represent becomes an :class:`Unconvertible` marker. The
  marker always replaces the *whole* column value (an unrepresentable array element or
  JSON member makes the whole array/JSON value unconvertible, with the position in the
  reason), so the builder only has to test the top-level value. It then routes it
  through the job's error policy with the row key and column; nothing is dropped
  silently.
* Converters may be lossy in documented ways (datetimes are truncated to milliseconds,
  the BSON precision). The reader must therefore keep the *raw* driver values of key
  columns for keyset pagination and apply converters only to build documents.
* Datetimes come out as naive ``datetime`` objects in UTC, the same shape pymongo
  decodes with its default ``tz_aware=False``, so a converted source value compares
  equal to what is read back from the target.
* Converters are ``None``-safe (SQL NULL stays ``None``), though a reader may skip the
  call for ``None`` itself.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import ipaddress
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bson.binary import Binary
from bson.datetime_ms import DatetimeMS
from bson.decimal128 import Decimal128
from bson.int64 import Int64
from bson.objectid import ObjectId

__all__ = [
    "Converter",
    "Unconvertible",
    "date_to_bson",
    "datetime_to_bson",
    "decimal_free",
    "decimal_to_bson",
    "int_to_bson",
    "iso_duration",
    "json_to_bson",
    "list_of",
    "makes_no_decimal128",
    "millis_from_fields",
    "naive_ms",
    "time_to_str",
    "timedelta_to_iso",
    "timedelta_to_time_str",
    "to_bson",
    "uuid_to_bson",
]


@dataclass(frozen=True, slots=True)
class Unconvertible:
    """Stands in for a value BSON cannot represent; the builder reports it per row."""

    reason: str
    raw: str


Converter = Callable[[Any], Any]

_DECIMAL_FREE: set[Converter] = set()


def decimal_free(convert: Converter) -> Converter:
    """Mark a column converter that never returns a Decimal128 (dates, UUIDs, …), so a target
    that stores decimals as strings or doubles need not look at what it returns."""
    _DECIMAL_FREE.add(convert)
    return convert


def makes_no_decimal128(convert: Converter) -> bool:
    return convert in _DECIMAL_FREE


INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_RAW_LIMIT = 200  # keep error records readable; the row key identifies the full value
_EPOCH = _dt.datetime(1970, 1, 1)
_MS = _dt.timedelta(milliseconds=1)

# Decimal128 (IEEE 754-2008 decimal128): 34 significant digits, and the exponent of the
# integer coefficient ranges over [-6176, 6111].
_D128_DIGITS = 34
_D128_QMIN = -6176
_D128_QMAX = 6111
_D128_BIAS = 6176
_LOW64 = 0xFFFFFFFFFFFFFFFF
_EXACT = decimal.Context(prec=_D128_DIGITS, Emin=-999_999, Emax=999_999)
_D128_NAN = Decimal128("NaN")
_D128_NEG_NAN = Decimal128("-NaN")
_D128_INF = Decimal128("Infinity")
_D128_NEG_INF = Decimal128("-Infinity")


def _raw(value: Any) -> str:
    """A bounded text form of an offending value, for the error record."""
    try:
        text = value if isinstance(value, str) else repr(value)
    except RecursionError:
        return f"<{type(value).__name__} nested too deeply to show>"
    return text if len(text) <= _RAW_LIMIT else text[:_RAW_LIMIT] + "…"


# ---------------------------------------------------------------------------------------
# Scalars


def int_to_bson(value: int) -> int | Decimal128 | Unconvertible:
    """Pass ints that fit int64 (pymongo picks int32 or int64 by value).

    Larger ones (MySQL BIGINT UNSIGNED, BIT(64), big JSON numbers) would make pymongo
    raise ``OverflowError`` for the whole batch; they become an exact Decimal128 when
    they have at most 34 digits, else :class:`Unconvertible`.
    """
    if INT64_MIN <= value <= INT64_MAX:
        return value
    if len(str(abs(value))) <= _D128_DIGITS:
        return Decimal128(Decimal(value))
    return Unconvertible("integer has more than 34 digits (Decimal128 limit)", _raw(value))


def decimal_to_bson(value: Decimal) -> Decimal128 | Unconvertible:
    """Exact ``Decimal`` → ``Decimal128``, or :class:`Unconvertible` if it cannot be exact.

    ``Decimal128(Decimal)`` is slow (pure Python bit loops) and, depending on the
    context, may round; so the common case builds the BID words directly and anything
    outside 34 digits / the exponent range goes through an explicit exactness check.
    Trailing zeros beyond 34 digits are dropped when that keeps the value exact
    (e.g. MySQL DECIMAL(65,30) values), which changes the scale but not the value.
    """
    sign, digits, exp = value.as_tuple()
    if type(exp) is str:  # 'n' NaN, 'N' sNaN, 'F' Infinity
        if exp == "F":
            return _D128_NEG_INF if sign else _D128_INF
        if digits:
            return Unconvertible("NaN with a diagnostic payload", _raw(str(value)))
        if exp == "N":
            return Decimal128(value)
        return _D128_NEG_NAN if sign else _D128_NAN
    if len(digits) <= _D128_DIGITS and _D128_QMIN <= exp <= _D128_QMAX:
        coefficient = abs(int(value.scaleb(-exp, _EXACT)))
        high = (sign << 63) | ((exp + _D128_BIAS) << 49) | (coefficient >> 64)
        return Decimal128((high, coefficient & _LOW64))
    try:
        result = Decimal128(value)
    except (decimal.DecimalException, ValueError):
        result = None
    if result is None or result.to_decimal() != value:
        return Unconvertible(
            f"decimal with {len(digits)} significant digits and exponent {exp} does not fit "
            "Decimal128 (34 digits, exponent -6176..6111) without rounding",
            _raw(str(value)),
        )
    return result


def millis_from_fields(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    microsecond: int = 0,
    offset_seconds: int = 0,
) -> int:
    """Milliseconds since the Unix epoch for a proleptic Gregorian date of any year.

    ``year`` is astronomical (1 BC is 0). Used for datetimes outside Python's
    1..9999 range, which BSON stores fine (int64 milliseconds) via ``DatetimeMS``.
    Sub-millisecond digits are floored, as pymongo does for ``datetime``.
    """
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_seconds
    return seconds * 1000 + microsecond // 1000


def datetime_to_bson(value: _dt.datetime) -> _dt.datetime | DatetimeMS:
    """Naive UTC, truncated to whole milliseconds (BSON's precision).

    Aware values are converted to UTC; naive ones are taken as UTC already (the
    readers set the session time zone to UTC). Truncating here, rather than leaving it
    to pymongo, makes the converted value equal to what the target returns. An aware
    value whose UTC equivalent leaves Python's range becomes a ``DatetimeMS``.
    """
    offset = value.utcoffset()
    if offset:
        try:
            value = value - offset
        except OverflowError:
            naive = value.replace(tzinfo=None)
            return DatetimeMS((naive - _EPOCH - offset) // _MS)
    return naive_ms(value)


def naive_ms(value: _dt.datetime) -> _dt.datetime:
    """The same wall time without its tzinfo, truncated to whole milliseconds.

    Built with the constructor: `datetime.replace` with keywords costs four times as much
    (2.2 against 0.5 µs), and this runs once per timestamp of every snapshot row.
    """
    us = value.microsecond
    return _dt.datetime(
        value.year, value.month, value.day, value.hour, value.minute, value.second, us - us % 1000
    )


def date_to_bson(value: _dt.date) -> _dt.datetime:
    """A date becomes the BSON datetime at UTC midnight (BSON has no date-only type)."""
    return _dt.datetime(value.year, value.month, value.day)


def _fraction(us: int) -> str:
    return f".{us:06d}" if us else ""


def _offset_str(offset: _dt.timedelta) -> str:
    total = int(offset.total_seconds())
    sign = "-" if total < 0 else "+"
    hours, rest = divmod(abs(total), 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{sign}{hours:02d}:{minutes:02d}"
    return text + f":{seconds:02d}" if seconds else text


def time_to_str(value: _dt.time) -> str:
    """``HH:MM:SS[.ffffff][±HH:MM]``: BSON has no time-of-day type, and a string keeps it
    exact and sortable (a datetime on 1970-01-01 would invite time-zone mistakes)."""
    text = f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}{_fraction(value.microsecond)}"
    offset = value.utcoffset()
    return text if offset is None else text + _offset_str(offset)


def timedelta_to_time_str(value: _dt.timedelta) -> str:
    """``[-]HH:MM:SS[.ffffff]`` for a MySQL TIME, which is a signed duration of up to
    ±838:59:59.999999 (so hours may exceed 24), delivered by PyMySQL as a timedelta."""
    total = value // _dt.timedelta(microseconds=1)
    sign = "-" if total < 0 else ""
    seconds, us = divmod(abs(total), 1_000_000)
    minutes, sec = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    return f"{sign}{hours:02d}:{minute:02d}:{sec:02d}{_fraction(us)}"


def _trunc_div(a: int, b: int) -> int:
    """C integer division (rounds toward zero), as PostgreSQL uses."""
    q = abs(a) // b
    return q if a >= 0 else -q


def iso_duration(months: int, days: int, microseconds: int) -> str:
    """ISO-8601 duration in PostgreSQL's ``IntervalStyle = iso_8601`` spelling.

    Mirrors PostgreSQL's EncodeInterval: each field carries its own sign (C truncating
    division), zero fields are omitted, ``PT0S`` for zero, and trailing zeros of the
    seconds fraction are trimmed. Months stay months: a month is not 30 days.
    """
    if not (months or days or microseconds):
        return "PT0S"
    year = _trunc_div(months, 12)
    mon = months - year * 12
    hour = _trunc_div(microseconds, 3_600_000_000)
    rest = microseconds - hour * 3_600_000_000
    minute = _trunc_div(rest, 60_000_000)
    rest -= minute * 60_000_000
    parts = ["P"]
    for amount, unit in ((year, "Y"), (mon, "M"), (days, "D")):
        if amount:
            parts.append(f"{amount}{unit}")
    if hour or minute or rest:
        parts.append("T")
        for amount, unit in ((hour, "H"), (minute, "M")):
            if amount:
                parts.append(f"{amount}{unit}")
        if rest:
            sec, frac = divmod(abs(rest), 1_000_000)
            text = f"{sec}.{frac:06d}".rstrip("0").rstrip(".") if frac else str(sec)
            parts.append(("-" if rest < 0 else "") + text + "S")
    return "".join(parts)


def timedelta_to_iso(value: _dt.timedelta) -> str:
    """A timedelta as an ISO-8601 duration (days + time; a timedelta has no months)."""
    return iso_duration(0, value.days, value.seconds * 1_000_000 + value.microseconds)


def uuid_to_bson(value: uuid.UUID) -> Binary:
    """A UUID as BSON Binary subtype 4, the portable (STANDARD) representation."""
    return Binary(value.bytes, 4)


# ---------------------------------------------------------------------------------------
# Containers


def _is_bad(value: Any) -> bool:
    return type(value) is Unconvertible


def list_of(element: Converter) -> Converter:
    """Apply ``element`` to every item of a (possibly nested) list, keeping ``None``.

    Nested lists stay nested (multi-dimensional SQL arrays); whether the target accepts
    arrays inside arrays is the target profile's business. An unconvertible element
    makes the whole value unconvertible, with its index in the reason.
    """

    def convert(value: Any) -> Any:
        if value is None:
            return None
        if type(value) is Unconvertible:
            return value
        if not isinstance(value, (list, tuple)):
            return element(value)
        out = []
        append = out.append
        for index, item in enumerate(value):
            if item is None:
                append(None)
                continue
            result = convert(item) if isinstance(item, (list, tuple)) else element(item)
            if type(result) is Unconvertible:
                return Unconvertible(f"element [{index}]: {result.reason}", result.raw)
            append(result)
        return out

    return convert


def _convert_key(key: Any) -> str | Unconvertible:
    if type(key) is not str:
        return Unconvertible("document key is not a string", _raw(key))
    if "\x00" in key:
        return Unconvertible("document key contains a NUL character (invalid BSON)", _raw(key))
    return key


def _dict_to_bson(value: dict[Any, Any], convert: Converter) -> dict[str, Any] | Unconvertible:
    out: dict[str, Any] = {}
    for key, item in value.items():
        new_key = _convert_key(key)
        if type(new_key) is Unconvertible:
            return new_key
        result = convert(item)
        if type(result) is Unconvertible:
            return Unconvertible(f"member {key!r}: {result.reason}", result.raw)
        out[new_key] = result
    return out


def _seq_to_bson(
    value: list[Any] | tuple[Any, ...], convert: Converter
) -> list[Any] | Unconvertible:
    out = []
    append = out.append
    for index, item in enumerate(value):
        result = convert(item)
        if type(result) is Unconvertible:
            return Unconvertible(f"element [{index}]: {result.reason}", result.raw)
        append(result)
    return out


def json_to_bson(value: Any) -> Any:
    """Parsed JSON (dict/list/str/int/float/bool/None) → BSON-ready.

    Only integers beyond int64 and document keys that BSON cannot hold need work;
    walking the structure is still required to find them. Keys containing ``.`` or
    starting with ``$`` are valid BSON and left alone (the target profile flags them
    where the server rejects them).
    """
    try:
        return _json(value)
    except RecursionError:
        return Unconvertible("JSON nested too deeply", _raw(value))


def _json(value: Any) -> Any:
    t = type(value)
    if t is str or t is float or t is bool or value is None:
        return value
    if t is int:
        return value if INT64_MIN <= value <= INT64_MAX else int_to_bson(value)
    if t is dict:
        return _dict_to_bson(value, _json)
    if t is list:
        return _seq_to_bson(value, _json)
    return to_bson(value)


# ---------------------------------------------------------------------------------------
# Generic dispatch


def _bytes(value: bytes | bytearray | memoryview) -> bytes:
    return bytes(value)


def _to_str(value: Any) -> str:
    return str(value)


_PASS: frozenset[type] = frozenset(
    {
        type(None),
        bool,
        str,
        float,
        bytes,
        Binary,
        Decimal128,
        DatetimeMS,
        Int64,
        ObjectId,
        Unconvertible,
    }
)

_SCALARS: dict[type, Converter] = {
    int: int_to_bson,
    Decimal: decimal_to_bson,
    _dt.datetime: datetime_to_bson,
    _dt.date: date_to_bson,
    _dt.time: time_to_str,
    _dt.timedelta: timedelta_to_iso,
    uuid.UUID: uuid_to_bson,
    bytearray: _bytes,
    memoryview: _bytes,
    ipaddress.IPv4Address: _to_str,
    ipaddress.IPv6Address: _to_str,
    ipaddress.IPv4Interface: _to_str,
    ipaddress.IPv6Interface: _to_str,
    ipaddress.IPv4Network: _to_str,
    ipaddress.IPv6Network: _to_str,
}

# For subclasses (e.g. pendulum datetimes, IntEnum): checked in this order, most
# specific first (datetime before date, bool before int).
_BASES: tuple[tuple[type | tuple[type, ...], Converter], ...] = (
    (bool, bool),
    (int, lambda v: int_to_bson(int(v))),
    (float, float),
    (str, str),
    (Decimal, decimal_to_bson),
    (_dt.datetime, datetime_to_bson),
    (_dt.date, date_to_bson),
    (_dt.time, time_to_str),
    (_dt.timedelta, timedelta_to_iso),
    (uuid.UUID, uuid_to_bson),
    (bytes, bytes),
    (bytearray, _bytes),
    (memoryview, _bytes),
    ((ipaddress.IPv4Address, ipaddress.IPv6Address), _to_str),
    ((ipaddress.IPv4Network, ipaddress.IPv6Network), _to_str),
)


def to_bson(value: Any) -> Any:
    """Convert one driver value by its Python type; see the module docstring.

    Anything the table does not know becomes :class:`Unconvertible` rather than
    ``str(value)``: a ``repr``-like string would be written silently and look like
    data, while an error names the column so a dialect mapping can be added.
    """
    t = type(value)
    if t in _PASS:
        return value
    scalar = _SCALARS.get(t)
    if scalar is not None:
        return scalar(value)
    if t is list or t is tuple:
        return _seq_to_bson(value, to_bson)
    if t is dict:
        return _dict_to_bson(value, to_bson)
    for base, convert in _BASES:
        if isinstance(value, base):
            return convert(value)
    if isinstance(value, (list, tuple)):
        return _seq_to_bson(value, to_bson)
    if isinstance(value, dict):
        return _dict_to_bson(value, to_bson)
    return Unconvertible(f"no BSON mapping for Python type {t.__qualname__}", _raw(value))
