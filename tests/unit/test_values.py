"""Pure-logic tests of the dialect-neutral value conversion (no services)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import random
import uuid
from decimal import Decimal

import bson
import pytest
from bson import Binary, Decimal128, Int64
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.datetime_ms import DatetimeMS

from relmig.source.values import (
    Unconvertible,
    decimal_to_bson,
    iso_duration,
    json_to_bson,
    list_of,
    millis_from_fields,
    time_to_str,
    timedelta_to_iso,
    timedelta_to_time_str,
    to_bson,
)


def roundtrip(value: object) -> object:
    """What MongoDB would hand back for a value (pymongo's default decoding)."""
    return bson.decode(bson.encode({"v": value}))["v"]


@pytest.mark.parametrize("value", [None, True, False, 0, -5, 2**31, "x", 1.5, b"\x00\x01"])
def test_passthrough_is_identity(value: object) -> None:
    assert to_bson(value) is value


def test_int_range() -> None:
    assert to_bson(2**63 - 1) == 2**63 - 1
    assert to_bson(-(2**63)) == -(2**63)
    big = to_bson(2**64 - 1)  # BIGINT UNSIGNED max
    assert isinstance(big, Decimal128)
    assert big.to_decimal() == 2**64 - 1
    assert isinstance(to_bson(10**40), Unconvertible)


def test_pymongo_picks_int32_or_int64_by_value() -> None:
    raw = bson.encode({"small": 2**31 - 1, "big": 2**31})
    # element type bytes: 0x10 int32, 0x12 int64
    assert raw[4] == 0x10
    assert b"\x12big\x00" in raw
    decoded = bson.decode(raw)
    assert not isinstance(decoded["small"], Int64)
    assert isinstance(decoded["big"], Int64)


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "-0",
        "1.10",
        "12345.6789",
        "-0.000001",
        "9" * 34,
        "0." + "1" * 34,
        "1E+6111",
        "1E-6176",
        "123456789012345678901234567890.1234",
        "-1.000000000000000000000000000000000",
    ],
)
def test_decimal_exact(text: str) -> None:
    value = Decimal(text)
    converted = decimal_to_bson(value)
    assert isinstance(converted, Decimal128)
    # Same bits as pymongo's own (slow) constructor, and the exact value and scale.
    assert converted.bid == Decimal128(value).bid
    assert str(converted.to_decimal()) == str(value)


def test_decimal_fast_path_matches_pymongo_randomly() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 34)))
        exp = rng.randint(-200, 200)
        value = Decimal(f"{rng.choice('-+')}{digits}E{exp}")
        assert decimal_to_bson(value).bid == Decimal128(value).bid


def test_decimal_too_many_digits() -> None:
    result = decimal_to_bson(Decimal("1" * 35))
    assert isinstance(result, Unconvertible)
    assert "34" in result.reason
    assert result.raw == "1" * 35
    assert isinstance(
        decimal_to_bson(Decimal("1.0000000000000000000000000000000001")), Unconvertible
    )


def test_decimal_trailing_zeros_beyond_34_digits_kept_exact() -> None:
    # A MySQL DECIMAL(65,30) value: 50 digits, but only 23 significant ones.
    value = Decimal("12345678901234567890.123000000000000000000000000000")
    converted = decimal_to_bson(value)
    assert isinstance(converted, Decimal128)
    assert converted.to_decimal() == value


@pytest.mark.parametrize("text", ["1E+7000", "1E-7000", "1E-6177"])
def test_decimal_exponent_out_of_range(text: str) -> None:
    assert isinstance(decimal_to_bson(Decimal(text)), Unconvertible)


def test_decimal_large_exponent_is_clamped_when_exact() -> None:
    converted = decimal_to_bson(Decimal("1E+6140"))  # stored as 1000…0E+6111
    assert isinstance(converted, Decimal128)
    assert converted.to_decimal() == Decimal("1E+6140")


def test_decimal_specials() -> None:
    assert str(decimal_to_bson(Decimal("NaN"))) == "NaN"
    assert str(decimal_to_bson(Decimal("Infinity"))) == "Infinity"
    assert str(decimal_to_bson(Decimal("-Infinity"))) == "-Infinity"
    assert isinstance(decimal_to_bson(Decimal("NaN123")), Unconvertible)


def test_datetime_naive_is_utc_and_truncated_to_ms() -> None:
    value = dt.datetime(2024, 2, 29, 23, 59, 59, 999999)
    converted = to_bson(value)
    assert converted == dt.datetime(2024, 2, 29, 23, 59, 59, 999000)
    assert converted.tzinfo is None
    assert roundtrip(converted) == converted  # equal to what the target returns


def test_datetime_aware_converted_to_naive_utc() -> None:
    tz = dt.timezone(dt.timedelta(hours=5, minutes=30))
    value = dt.datetime(2024, 1, 1, 5, 30, 0, 123456, tzinfo=tz)
    assert to_bson(value) == dt.datetime(2024, 1, 1, 0, 0, 0, 123000)
    utc = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert to_bson(utc) == dt.datetime(2024, 1, 1)


def test_datetime_equals_what_the_target_returns_randomly() -> None:
    """Naive, UTC and offset values alike: the converted value is what pymongo reads back."""
    rng = random.Random(12)
    zones = [None, dt.UTC, *(dt.timezone(dt.timedelta(minutes=m)) for m in (-719, -300, 345))]
    for _ in range(2000):
        value = dt.datetime(1901, 1, 1) + dt.timedelta(
            seconds=rng.randrange(0, 6_000_000_000), microseconds=rng.randrange(1_000_000)
        )
        value = value.replace(tzinfo=rng.choice(zones))
        converted = to_bson(value)
        assert converted.tzinfo is None, value
        assert converted == roundtrip(value), value


def test_datetime_aware_overflowing_python_range_becomes_datetime_ms() -> None:
    value = dt.datetime(9999, 12, 31, 23, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    converted = to_bson(value)
    assert isinstance(converted, DatetimeMS)
    assert int(converted) == millis_from_fields(10000, 1, 1, 4)


def test_pre_epoch_truncation_matches_pymongo() -> None:
    value = dt.datetime(1969, 12, 31, 23, 59, 59, 999999)
    assert roundtrip(to_bson(value)) == roundtrip(value) == to_bson(value)


def test_date_becomes_utc_midnight() -> None:
    assert to_bson(dt.date(1, 1, 1)) == dt.datetime(1, 1, 1)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ((1970, 1, 1), dt.datetime(1970, 1, 1)),
        ((2000, 2, 29, 12, 30, 15, 123456), dt.datetime(2000, 2, 29, 12, 30, 15, 123000)),
        ((1, 1, 1), dt.datetime(1, 1, 1)),
        ((9999, 12, 31, 23, 59, 59, 999999), dt.datetime(9999, 12, 31, 23, 59, 59, 999000)),
        ((1900, 3, 1), dt.datetime(1900, 3, 1)),
    ],
)
def test_millis_from_fields_matches_python(fields: tuple[int, ...], expected: dt.datetime) -> None:
    assert millis_from_fields(*fields) == int(DatetimeMS(expected))


def test_millis_from_fields_outside_python_range() -> None:
    # 1 BC (astronomical 0) is a leap year in the proleptic Gregorian calendar.
    jan1_year1 = millis_from_fields(1, 1, 1)
    assert millis_from_fields(0, 1, 1) == jan1_year1 - 366 * 86_400_000
    assert millis_from_fields(10000, 1, 1) - millis_from_fields(9999, 12, 31) == 86_400_000
    assert millis_from_fields(1970, 1, 1, 1, offset_seconds=3600) == 0
    ms = millis_from_fields(-4713, 11, 24)  # PostgreSQL's minimum
    opts = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_MS)
    assert bson.decode(bson.encode({"v": DatetimeMS(ms)}), codec_options=opts)["v"] == DatetimeMS(
        ms
    )


def test_time_to_str() -> None:
    assert time_to_str(dt.time(7, 5, 3)) == "07:05:03"
    assert time_to_str(dt.time(7, 5, 3, 500000)) == "07:05:03.500000"
    tz = dt.timezone(dt.timedelta(hours=-3, minutes=-30))
    assert time_to_str(dt.time(7, 5, 3, tzinfo=tz)) == "07:05:03-03:30"
    assert time_to_str(dt.time(7, 5, 3, tzinfo=dt.UTC)) == "07:05:03+00:00"
    assert to_bson(dt.time(1, 2, 3)) == "01:02:03"


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (dt.timedelta(0), "00:00:00"),
        (dt.timedelta(hours=838, minutes=59, seconds=59), "838:59:59"),
        (-dt.timedelta(hours=838, minutes=59, seconds=59), "-838:59:59"),
        (dt.timedelta(seconds=-1), "-00:00:01"),
        (dt.timedelta(hours=25, microseconds=5), "25:00:00.000005"),
        (-dt.timedelta(microseconds=500000), "-00:00:00.500000"),
    ],
)
def test_mysql_time_strings(delta: dt.timedelta, expected: str) -> None:
    assert timedelta_to_time_str(delta) == expected


@pytest.mark.parametrize(
    ("months", "days", "micros", "expected"),
    [
        (0, 0, 0, "PT0S"),
        (14, 3, 4 * 3600_000_000 + 5 * 60_000_000 + 6_789_000, "P1Y2M3DT4H5M6.789S"),
        (-14, -3, -(4 * 3600_000_000 + 6_500_000), "P-1Y-2M-3DT-4H-6.5S"),
        (1, 0, 0, "P1M"),
        (0, 0, -500_000, "PT-0.5S"),
        (0, 1, 60_000_000, "P1DT1M"),
    ],
)
def test_iso_duration_spelled_like_postgres(
    months: int, days: int, micros: int, expected: str
) -> None:
    assert iso_duration(months, days, micros) == expected


def test_timedelta_to_iso() -> None:
    assert timedelta_to_iso(dt.timedelta(days=2, hours=3, microseconds=1)) == "P2DT3H0.000001S"
    assert to_bson(dt.timedelta(0)) == "PT0S"


def test_uuid_is_binary_subtype_4() -> None:
    value = uuid.UUID("12345678-1234-5678-1234-567812345678")
    converted = to_bson(value)
    assert isinstance(converted, Binary)
    assert converted.subtype == 4
    assert converted == Binary.from_uuid(value)


def test_bytes_like_and_addresses() -> None:
    assert to_bson(bytearray(b"ab")) == b"ab"
    assert type(to_bson(memoryview(b"ab"))) is bytes
    assert to_bson(ipaddress.ip_address("::1")) == "::1"
    assert to_bson(ipaddress.ip_interface("10.0.0.1/8")) == "10.0.0.1/8"
    assert to_bson(ipaddress.ip_network("10.0.0.0/8")) == "10.0.0.0/8"


def test_containers_convert_recursively() -> None:
    value = {"a": [Decimal("1.5"), dt.date(2020, 1, 2)], "b": (1, None)}
    assert to_bson(value) == {"a": [Decimal128("1.5"), dt.datetime(2020, 1, 2)], "b": [1, None]}


def test_nested_unconvertible_poisons_the_whole_value() -> None:
    result = to_bson({"a": [1, Decimal("1" * 40)]})
    assert isinstance(result, Unconvertible)
    assert result.reason.startswith("member 'a': element [1]:")
    assert result.raw == "1" * 40


def test_unknown_type_is_unconvertible_not_str() -> None:
    class Thing:
        pass

    result = to_bson(Thing())
    assert isinstance(result, Unconvertible)
    assert "Thing" in result.reason


def test_subclasses_are_dispatched() -> None:
    class MyInt(int):
        pass

    class MyDatetime(dt.datetime):
        pass

    assert type(to_bson(MyInt(3))) is int
    assert to_bson(MyDatetime(2020, 1, 1, 0, 0, 0, 1500)) == dt.datetime(2020, 1, 1, 0, 0, 0, 1000)


def test_json_walk() -> None:
    parsed = {"n": 2**70, "s": "x", "f": 1.5, "l": [1, {"k.dot": True}], "z": None}
    out = json_to_bson(parsed)
    assert out["n"] == Decimal128(Decimal(2**70))
    assert out["l"] == [1, {"k.dot": True}]  # dotted keys are valid BSON: the target decides
    assert isinstance(json_to_bson({"bad\x00key": 1}), Unconvertible)
    assert isinstance(json_to_bson([10**40]), Unconvertible)


def test_list_of_keeps_nesting_and_nulls() -> None:
    convert = list_of(to_bson)
    assert convert(None) is None
    assert convert([[Decimal("1"), None], [None, Decimal("2")]]) == [
        [Decimal128("1"), None],
        [None, Decimal128("2")],
    ]
    marker = Unconvertible("date is infinity", "infinity")
    result = convert([dt.date(2020, 1, 1), marker])
    assert result == Unconvertible("element [1]: date is infinity", "infinity")


def test_unconvertible_is_hashable_and_frozen() -> None:
    marker = Unconvertible("r", "x")
    assert {marker} == {Unconvertible("r", "x")}
    with pytest.raises(AttributeError):
        marker.reason = "other"  # type: ignore[misc]


def test_json_nested_beyond_the_recursion_limit_is_unconvertible() -> None:
    doc: dict[str, object] = {}
    node = doc
    for _ in range(5000):
        node["a"] = {}
        node = node["a"]  # type: ignore[assignment]
    result = json_to_bson(doc)
    assert isinstance(result, Unconvertible)
    assert "too deeply" in result.reason
