"""Pure-logic tests of the PostgreSQL and MySQL per-type converters (no services)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest
from bson import Binary, Decimal128
from bson.datetime_ms import DatetimeMS

from relmig.source import mysql_types, postgres_types
from relmig.source.postgres_types import _load_out_of_range, _TimeLoader, _TimetzLoader
from relmig.source.values import Unconvertible, millis_from_fields

# ---------------------------------------------------------------------------------------
# PostgreSQL


@pytest.mark.parametrize(
    "sql_type",
    [
        "integer",
        "bigint",
        "smallint",
        "boolean",
        "real",
        "double precision",
        "text",
        "varchar(40)",
        "character varying(40)",
        "char(3)",
        "bytea",
        "bit(8)",
        "bit varying(8)",
        "inet",
        "cidr",
        "macaddr",
        "interval",
        "interval day to second",
        "time without time zone",
        "time(3) with time zone",
        "integer[]",
        "text[]",
        "int4range",
        "xml",
    ],
)
def test_pg_identity_types_have_no_converter(sql_type: str) -> None:
    assert postgres_types.converter_for(sql_type) is None


@pytest.mark.parametrize(
    ("sql_type", "quoted", "expected"),
    [
        ("money", '"m"', '"m"::numeric'),
        ("money[]", '"m"', '"m"::numeric[]'),
        ("int4range", '"r"', '"r"::text'),
        ("tstzmultirange", '"r"', '"r"::text'),
        ("daterange[]", '"r"', '"r"::text[]'),
        ("mood[]", '"e"', '"e"::text[]'),
        ("integer[]", '"a"', '"a"'),
        ("numeric(10, 2)[]", '"a"', '"a"'),
        ("mood", '"e"', '"e"'),
        ("integer", '"i"', '"i"'),
    ],
)
def test_pg_select_expression(sql_type: str, quoted: str, expected: str) -> None:
    assert postgres_types.select_expression(sql_type, quoted) == expected


def test_pg_numeric_and_money() -> None:
    for sql_type in ("numeric(10, 2)", "numeric", "money"):
        convert = postgres_types.converter_for(sql_type)
        assert convert is not None
        assert convert(Decimal("12.30")) == Decimal128("12.30")
        assert convert(None) is None
        assert isinstance(convert(Decimal("1" * 40)), Unconvertible)


def test_pg_dates_and_timestamps() -> None:
    date_ = postgres_types.converter_for("date")
    ts = postgres_types.converter_for("timestamp without time zone")
    tstz = postgres_types.converter_for("timestamp(3) with time zone")
    assert date_ is not None and ts is not None and tstz is not None
    assert date_(dt.date(2020, 5, 6)) == dt.datetime(2020, 5, 6)
    assert ts(dt.datetime(2020, 5, 6, 1, 2, 3, 456789)) == dt.datetime(2020, 5, 6, 1, 2, 3, 456000)
    aware = dt.datetime(2020, 5, 6, 1, 2, 3, tzinfo=dt.UTC)
    assert tstz(aware) == dt.datetime(2020, 5, 6, 1, 2, 3)
    marker = Unconvertible("date is infinity", "infinity")
    far = DatetimeMS(millis_from_fields(10000, 1, 1))
    for convert in (date_, ts, tstz):
        assert convert(marker) is marker
        assert convert(far) is far
        assert convert(None) is None


def test_pg_arrays_of_converted_types() -> None:
    convert = postgres_types.converter_for("date[]")
    assert convert is not None
    assert convert([[dt.date(2020, 1, 1)], [None]]) == [[dt.datetime(2020, 1, 1)], [None]]
    bad = convert([dt.date(2020, 1, 1), Unconvertible("date is infinity", "infinity")])
    assert bad == Unconvertible("element [1]: date is infinity", "infinity")


def test_pg_uuid_json_and_unknown() -> None:
    u = uuid.uuid4()
    convert = postgres_types.converter_for("uuid")
    assert convert is not None
    assert convert(u) == Binary(u.bytes, 4)
    js = postgres_types.converter_for("jsonb")
    assert js is not None
    assert js({"a": [1, 2**64]}) == {"a": [1, Decimal128(str(2**64))]}
    enum = postgres_types.converter_for("mood")
    assert enum is not None
    assert enum("happy") == "happy"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"infinity", None),
        (b"-infinity", None),
        (b"10000-01-01", millis_from_fields(10000, 1, 1)),
        (b"0044-03-15 BC", millis_from_fields(-43, 3, 15)),
        (b"0001-01-01 00:00:00 BC", millis_from_fields(0, 1, 1)),
        (b"10000-01-01 12:00:00.5", millis_from_fields(10000, 1, 1, 12, 0, 0, 500000)),
        (b"10000-01-01 12:00:00+00", millis_from_fields(10000, 1, 1, 12)),
        (b"0001-01-01 00:00:00+01:30 BC", millis_from_fields(0, 1, 1, offset_seconds=5400)),
    ],
)
def test_pg_out_of_range_loading(raw: bytes, expected: int | None) -> None:
    result = _load_out_of_range(raw, "date")
    if expected is None:
        assert isinstance(result, Unconvertible)
        assert result.raw == raw.decode()
    else:
        assert result == DatetimeMS(expected)


def test_pg_time_loaders() -> None:
    time_loader = _TimeLoader(0)
    assert time_loader.load(b"24:00:00") == "24:00:00"
    assert time_loader.load(b"12:34:56.5") == "12:34:56.500000"
    timetz = _TimetzLoader(0)
    assert timetz.load(b"12:34:56.5+05") == "12:34:56.500000+05:00"
    assert timetz.load(b"12:00:00-03:30") == "12:00:00-03:30"
    assert timetz.load(b"12:00:00+00:00:15") == "12:00:00+00:00:15"


# ---------------------------------------------------------------------------------------
# MySQL / MariaDB


@pytest.mark.parametrize(
    "sql_type",
    [
        "integer",
        "integer(11)",
        "bigint(20)",
        "bigint",
        "int(10) unsigned",
        "tinyint(4)",
        "smallint(6)",
        "mediumint(9)",
        "year",
        "year(4)",
        "float",
        "double",
        "varchar(40)",
        "char(36)",
        "longtext",
        "text",
        "enum('a','b')",
        "binary(16)",
        "varbinary(10)",
        "blob",
        "longblob",
    ],
)
def test_mysql_identity_types(sql_type: str) -> None:
    assert mysql_types.converter_for(sql_type) is None


def test_mysql_tinyint1_and_bit() -> None:
    convert = mysql_types.converter_for("tinyint(1)")
    assert convert is not None
    assert convert(1) is True
    assert convert(0) is False
    assert convert(5) == 5  # not squashed to true
    assert convert(None) is None
    bit1 = mysql_types.converter_for("bit(1)")
    assert bit1 is not None
    assert bit1(b"\x01") is True
    assert bit1(b"\x00") is False
    bit = mysql_types.converter_for("bit(12)")
    assert bit is not None
    assert bit(b"\x0a\xbc") == 0xABC
    bit64 = mysql_types.converter_for("bit(64)")
    assert bit64 is not None
    assert bit64(b"\xff" * 8) == Decimal128(str(2**64 - 1))


def test_mysql_unsigned_bigint() -> None:
    convert = mysql_types.converter_for("bigint(20) unsigned")
    assert convert is not None
    assert convert(5) == 5
    assert convert(2**63) == Decimal128(str(2**63))
    assert mysql_types.converter_for("bigint(20)") is None


def test_mysql_decimal() -> None:
    convert = mysql_types.converter_for("decimal(65, 30)")
    assert convert is not None
    value = Decimal("12345678901234567890.123000000000000000000000000000")
    assert convert(value).to_decimal() == value
    too_long = Decimal("12345678901234567890.123456789012345678900000000000")
    assert isinstance(convert(too_long), Unconvertible)


def test_mysql_temporal() -> None:
    date_ = mysql_types.converter_for("date")
    dtm = mysql_types.converter_for("datetime(6)")
    ts = mysql_types.converter_for("timestamp")
    time_ = mysql_types.converter_for("time(6)")
    assert date_ and dtm and ts and time_
    assert date_(dt.date(2020, 1, 2)) == dt.datetime(2020, 1, 2)
    zero = date_("0000-00-00")
    assert isinstance(zero, Unconvertible) and "zero" in zero.reason and zero.raw == "0000-00-00"
    assert dtm(dt.datetime(2020, 1, 2, 3, 4, 5, 678901)) == dt.datetime(2020, 1, 2, 3, 4, 5, 678000)
    assert isinstance(ts("0000-00-00 00:00:00"), Unconvertible)
    invalid = dtm("2020-02-30 00:00:00")
    assert isinstance(invalid, Unconvertible) and "invalid" in invalid.reason
    assert time_(dt.timedelta(hours=-838, minutes=-59, seconds=-59)) == "-838:59:59"
    assert time_(None) is None


def test_mysql_json_set_and_spatial() -> None:
    js = mysql_types.converter_for("json")
    assert js is not None
    assert js('{"a": [1, 2.5, "x", null, 18446744073709551615]}') == {
        "a": [1, 2.5, "x", None, Decimal128("18446744073709551615")]
    }
    assert isinstance(js("{not json"), Unconvertible)
    assert js(None) is None
    set_ = mysql_types.converter_for("set('a','b','c')")
    assert set_ is not None
    assert set_("a,c") == ["a", "c"]
    assert set_("") == []
    assert mysql_types.select_expression("point", "`p`") == "ST_AsGeoJSON(`p`)"
    assert mysql_types.select_expression("json", "`j`") == "`j`"
    geo = mysql_types.converter_for("geometry")
    assert geo is not None
    assert geo(json.dumps({"type": "Point", "coordinates": [1, 2]})) == {
        "type": "Point",
        "coordinates": [1, 2],
    }


def test_mysql_unknown_type_uses_generic() -> None:
    convert = mysql_types.converter_for("somethingnew")
    assert convert is not None
    assert convert(Decimal("1.5")) == Decimal128("1.5")


def test_plain_values_are_only_kinds_every_target_stores() -> None:
    """A plain column's documents skip the target screen, so anything that can hold NaN, a
    Decimal128, an array, a JSON object or a NUL character must not be plain."""
    from relmig.source import mysql_types, postgres_types

    for sql_type in ("integer", "bigint", "text", "character varying(20)", "timestamptz", "uuid"):
        assert postgres_types.plain_values(sql_type, "decimal128"), sql_type
    for sql_type in ("double precision", "real", "jsonb", "integer[]", "point", "mood", "xml"):
        assert not postgres_types.plain_values(sql_type, "string"), sql_type
    assert postgres_types.plain_values("numeric(10, 2)", "string")
    assert not postgres_types.plain_values("numeric(10, 2)", "decimal128")
    assert not postgres_types.plain_values("numeric(10, 2)", "double")  # NaN
    for sql_type in ("int(11)", "bigint(20)", "datetime(6)", "date", "tinyint(1)"):
        assert mysql_types.plain_values(sql_type, "decimal128"), sql_type
    for sql_type in ("bigint(20) unsigned", "varchar(10)", "text", "json", "double", "bit(64)"):
        assert not mysql_types.plain_values(sql_type, "string"), sql_type
    assert mysql_types.plain_values("decimal(10,2)", "string")
