"""Type fidelity against the real servers: source edge values → BSON → each target and back.

For each source (PostgreSQL 15 via psycopg 3, MariaDB via PyMySQL) a throw-away table
holds edge values of every supported type. They are read the way the reader does
(``configure_connection`` / ``select_expression`` / ``converter_for``), checked value by
value, written to the target and read back. The target profile's predictions are
checked against the server: what it flags is refused, and what it does not flag is
stored and returned unchanged. Every test runs against both targets of dev/services:
FerretDB v1, which refuses much, and mongo-java-server (mongo2), which stores it all.

Connection settings come from the shared fixtures in tests/conftest.py (dev/ports.env).
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import bson
import psycopg
import pymysql
import pytest
import sqlalchemy as sa
from bson import Binary, Decimal128, Int64
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.datetime_ms import DatetimeMS
from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import AutoReconnect, OperationFailure

from relmig.mongo.profile import TargetProfile, drop_path
from relmig.source import mysql_types, postgres_types
from relmig.source.values import Unconvertible

pytestmark = pytest.mark.services

# Far dates (BC, after 9999) come back as DatetimeMS instead of failing to decode.
CODEC: CodecOptions[dict[str, Any]] = CodecOptions(
    datetime_conversion=DatetimeConversion.DATETIME_AUTO
)
UUID = uuid.UUID("12345678-1234-5678-1234-567812345678")


class Bad:
    """Expected :class:`Unconvertible`, whose reason contains ``fragment``."""

    def __init__(self, fragment: str) -> None:
        self.fragment = fragment

    def __repr__(self) -> str:
        return f"Bad({self.fragment!r})"


def same(actual: Any, expected: Any) -> bool:
    """Deep equality that also checks BSON-relevant types and treats NaN as equal."""
    if isinstance(expected, Bad):
        return isinstance(actual, Unconvertible) and expected.fragment in actual.reason
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(actual, float) and math.isnan(actual)
    if isinstance(expected, Decimal128):
        return isinstance(actual, Decimal128) and (
            actual.bid == expected.bid or actual.to_decimal() == expected.to_decimal()
        )
    if type(expected) is not type(actual) and not (
        isinstance(expected, int) and isinstance(actual, int) and not isinstance(actual, bool)
    ):
        return False
    if isinstance(expected, dict):
        return expected.keys() == actual.keys() and all(
            same(actual[k], expected[k]) for k in expected
        )
    if isinstance(expected, list):
        return len(expected) == len(actual) and all(
            same(a, e) for a, e in zip(actual, expected, strict=True)
        )
    return bool(actual == expected)


def bson_roundtrip(doc: dict[str, Any]) -> dict[str, Any]:
    return bson.decode(bson.encode(doc), codec_options=CODEC)


def server_accepts(db: Database[dict[str, Any]], collection: str, doc: dict[str, Any]) -> bool:
    try:
        db[collection].insert_one(doc)
    except (OperationFailure, AutoReconnect):
        # FerretDB v1 drops the connection for NaN and Decimal128 (AutoReconnect).
        return False
    return True


# ---------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="session")
def mongo_uri(any_target_uri: str) -> str:
    return any_target_uri


@pytest.fixture(scope="module")
def mongo(mongo_uri: str) -> Iterator[tuple[Database[dict[str, Any]], TargetProfile]]:
    client: MongoClient[dict[str, Any]] = MongoClient(
        mongo_uri, serverSelectionTimeoutMS=10_000, retryWrites=False
    )
    name = f"relmig_types_{uuid.uuid4().hex[:10]}"
    try:
        db = client.get_database(name, codec_options=CODEC)
        yield db, TargetProfile.probe(db)
    finally:
        try:
            client.drop_database(name)
        finally:
            client.close()


@pytest.fixture
def pg_schema(pg_dsn: str) -> Iterator[str]:
    schema = f"relmig_types_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        try:
            yield schema
        finally:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def my_params(mysql_params: dict[str, Any]) -> dict[str, Any]:
    return {**mysql_params, "charset": "utf8mb4", "autocommit": True}


@pytest.fixture
def my_table(my_params: dict[str, Any]) -> Iterator[str]:
    table = f"relmig_types_{uuid.uuid4().hex[:10]}"
    yield table
    with pymysql.connect(**my_params) as conn, conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS `{table}`")


def reflected_types(url: str, table: str, schema: str | None = None) -> dict[str, str]:
    """Column → SQLAlchemy's compiled lowercased type, as the reader computes it."""
    engine = sa.create_engine(url)
    try:
        out = {}
        for col in sa.inspect(engine).get_columns(table, schema=schema):
            try:
                out[col["name"]] = str(col["type"].compile(dialect=engine.dialect)).lower()
            except sa.exc.CompileError:
                out[col["name"]] = "<not compilable>"  # NullType: unknown to SQLAlchemy
        return out
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------------------
# What FerretDB v1 refuses, value by value: the profile's predictions vs the server


PROBES: dict[str, Any] = {
    "nan": float("nan"),
    "inf": float("inf"),
    "neg_inf": float("-inf"),
    "decimal": Decimal128("1.5"),
    "decimal_nan": Decimal128("NaN"),
    "nul": "a\x00b",
    "nested_array": [[1, 2]],
    "nested_array_in_doc_in_array": [{"a": [[1]]}],
    "dotted_key": {"a.b": 1},
    "dollar_key": {"$x": 1},
    "dollar_key_deep": [{"ok": {"$x": 1}}],
    # accepted everywhere
    "array_of_docs_of_arrays": [{"a": [1]}],
    "dollar_inside_key": {"a$b": 1},
    "empty_key": {"": 1},
    "neg_zero": -0.0,
    "int64": Int64(2**62),
    "far_future": DatetimeMS(10**15),
    "far_past": DatetimeMS(-(10**15)),
    "uuid": Binary(UUID.bytes, 4),
    "deep": {"x": {"x": {"x": {"x": [{"y": "z"}]}}}},
}


@pytest.mark.parametrize("name", list(PROBES))
def test_profile_predicts_server(
    mongo: tuple[Database[dict[str, Any]], TargetProfile], name: str
) -> None:
    db, profile = mongo
    doc = {"_id": name, "v": PROBES[name]}
    flagged = profile.problems(doc)
    accepted = server_accepts(db, "probes", doc)
    if not flagged:
        assert accepted, f"{name}: not flagged, but the server refused it"
        back = db["probes"].find_one({"_id": name})
        assert back is not None
        expected = bson_roundtrip(doc)
        if profile.ferretdb and name == "neg_zero":
            expected["v"] = 0.0  # FerretDB normalises -0.0 (documented, harmless)
        assert same(back, expected)
        return
    reasons = " | ".join(reason for _, reason in flagged)
    assert not accepted, f"{name}: flagged ({reasons}) but the server stored it"


def test_the_probes_find_what_each_target_stores(
    mongo: tuple[Database[dict[str, Any]], TargetProfile],
) -> None:
    _, profile = mongo
    flagged = {name for name, value in PROBES.items() if profile.problems({"v": value})}
    if profile.ferretdb_v1:
        # FerretDB's SQLite backend stores NUL (its PostgreSQL backend would not).
        assert flagged == {
            "nan",
            "inf",
            "neg_inf",
            "decimal",
            "decimal_nan",
            "nested_array",
            "nested_array_in_doc_in_array",
            "dotted_key",
            "dollar_key",
            "dollar_key_deep",
        }
        assert profile.replace_by_delete  # see relmig.mongo.profile
    else:
        # mongo2 takes the MongoDB path: it stores every probed value and replaces in bulk.
        assert flagged == set()
        assert (profile.decimal128, profile.nested_arrays, profile.dotted_keys) == (True,) * 3
        assert not profile.replace_by_delete


def check_target(
    mongo: tuple[Database[dict[str, Any]], TargetProfile],
    collection: str,
    docs: list[dict[str, Any]],
) -> dict[Any, list[str]]:
    """Write each document (flagged paths removed) and compare what comes back.

    Returns the flagged paths per ``_id``. A document with flagged values is also
    written whole, and must be refused.
    """
    db, profile = mongo
    flagged_paths: dict[Any, list[str]] = {}
    for doc in docs:
        problems = profile.problems(doc)
        flagged_paths[doc["_id"]] = [path for path, _ in problems]
        clean = copy.deepcopy(doc)
        for path, _ in problems:
            drop_path(clean, path)
        assert profile.problems(clean) == []
        expected = bson_roundtrip(clean)
        assert same(expected, clean), "a BSON round trip changed a converted value"
        db[collection].insert_one(clean)
        back = db[collection].find_one({"_id": doc["_id"]})
        assert back is not None
        for key in expected:
            assert same(back[key], expected[key]), (doc["_id"], key, back[key], expected[key])
        if problems:
            whole = dict(doc, _id=f"whole-{doc['_id']}")
            assert not server_accepts(db, f"{collection}_whole", whole), problems
    return flagged_paths


# ---------------------------------------------------------------------------------------
# PostgreSQL


PG_COLUMNS = """
    id integer PRIMARY KEY,
    i2 smallint, i4 integer, i8 bigint,
    num numeric(40, 10), n numeric, r real, d double precision,
    vc varchar(40), t text, b boolean,
    dt date, ts timestamp, ts3 timestamp(3), tstz timestamptz,
    tm time, tmtz timetz, iv interval,
    u uuid, j json, jb jsonb,
    ia integer[], ia2 integer[][], ta text[], na numeric[], da date[],
    by bytea, bt bit(8), vb bit varying,
    ip inet, ci cidr, mac macaddr, m money,
    e {schema}.mood, ea {schema}.mood[], rng int4range, x xml
"""

PG_SPELLINGS = {
    "id": "integer",
    "i2": "smallint",
    "i4": "integer",
    "i8": "bigint",
    "num": "numeric(40, 10)",
    "n": "numeric",
    "r": "real",
    "d": "double precision",
    "vc": "varchar(40)",
    "t": "text",
    "b": "boolean",
    "dt": "date",
    "ts": "timestamp without time zone",
    "ts3": "timestamp(3) without time zone",
    "tstz": "timestamp with time zone",
    "tm": "time without time zone",
    "tmtz": "time with time zone",
    "iv": "interval",
    "u": "uuid",
    "j": "json",
    "jb": "jsonb",
    "ia": "integer[]",
    "ia2": "integer[]",  # dimensions are not part of the reflected type
    "ta": "text[]",
    "na": "numeric[]",
    "da": "date[]",
    "by": "bytea",
    "bt": "bit(8)",
    "vb": "bit varying",
    "ip": "inet",
    "ci": "cidr",
    "mac": "macaddr",
    "m": "money",
    "e": "{schema}.mood",  # enums outside the search path come schema-qualified
    "ea": "{schema}.mood[]",
    "rng": "int4range",
    "x": "<not compilable>",  # xml (also point etc.): SQLAlchemy has no type
}

TINY = "0." + "0" * 6199 + "1"  # 1E-6200: below Decimal128's smallest exponent

PG_ROWS: list[dict[str, str | None]] = [
    {
        "id": "1",
        "i2": "32767",
        "i4": "2147483647",
        "i8": "9223372036854775807",
        "num": "12345678901234567890.1234567890",
        "n": "0.1",
        "r": "0.1",
        "d": "1.5",
        "vc": "héllo wörld",
        "t": "line1\nline2",
        "b": "true",
        "dt": "2024-02-29",
        "ts": "2024-02-29 12:34:56.789123",
        "ts3": "2024-02-29 12:34:56.789",
        "tstz": "2024-02-29 12:34:56.789123+05:30",
        "tm": "24:00:00",
        "tmtz": "12:34:56.5+05:30",
        "iv": "1 year 2 mons 3 days 04:05:06.789",
        "u": str(UUID),
        "j": '{"a": {"b": [1, 2, {"c": null}]}, "big": 123456789012345678901234}',
        "jb": '{"k": "v", "n": 1.5}',
        "ia": "{1,2,3}",
        "ta": '{"a","b c"}',
        "na": "{1.5,NULL,2.25}",
        "da": "{2020-01-01,NULL}",
        "by": "\\x000102ff",
        "bt": "10101010",
        "vb": "101",
        "ip": "192.168.0.1",
        "ci": "10.0.0.0/8",
        "mac": "08:00:2b:01:02:03",
        "m": "1234.56",
        "e": "happy",
        "ea": "{happy,sad}",
        "rng": "[1,10)",
        "x": "<a>1</a>",
    },
    {
        "id": "2",
        "i2": "-32768",
        "i4": "-2147483648",
        "i8": "5",
        "num": "-0.0000000001",
        "n": "NaN",
        "r": "NaN",
        "d": "-Infinity",
        "vc": "",
        "b": "false",
        "dt": "infinity",
        "ts": "-infinity",
        "tstz": "infinity",
        "tm": "00:00:00",
        "tmtz": "00:00:00-03:30",
        "iv": "-1 year -2 mons +3 days -04:05:06.5",
        "u": "00000000-0000-0000-0000-000000000000",
        "j": '{"a.b": 1, "$x": "\\u0000"}',
        "jb": "[[1, 2], [3]]",
        "ia2": "{{1,2},{3,4}}",
        "ta": "{}",
        "na": "{NaN}",
        "da": "{infinity}",
        "by": "\\x",
        "bt": "00000000",
        "vb": "",
        "ip": "::1",
        "ci": "2001:db8::/32",
        "m": "-92233720368547758.08",
        "e": "sad",
        "ea": "{}",
        "rng": "empty",
    },
    {
        "id": "3",
        "n": "1" * 40,
        "dt": "0044-03-15 BC",
        "ts": "10000-01-01 00:00:00",
        "tstz": "200000-06-15 12:30:45.678901+00",
        "iv": "0",
    },
    {"id": "4", "n": TINY},
    {"id": "5"},
]


def _pg_expected(far: tuple[int, int, int]) -> dict[str, dict[str, Any]]:
    """Expected converted values; ``far`` is PostgreSQL's own epoch arithmetic (ms)."""
    return {
        "1": {
            "i2": 32767,
            "i4": 2147483647,
            "i8": 9223372036854775807,
            "num": Decimal128("12345678901234567890.1234567890"),
            "n": Decimal128("0.1"),
            "r": 0.1,
            "d": 1.5,
            "vc": "héllo wörld",
            "t": "line1\nline2",
            "b": True,
            "dt": dt.datetime(2024, 2, 29),
            "ts": dt.datetime(2024, 2, 29, 12, 34, 56, 789000),
            "ts3": dt.datetime(2024, 2, 29, 12, 34, 56, 789000),
            "tstz": dt.datetime(2024, 2, 29, 7, 4, 56, 789000),
            "tm": "24:00:00",
            "tmtz": "12:34:56.500000+05:30",
            "iv": "P1Y2M3DT4H5M6.789S",
            "u": Binary(UUID.bytes, 4),
            "j": {
                "a": {"b": [1, 2, {"c": None}]},
                "big": Decimal128("123456789012345678901234"),
            },
            "jb": {"k": "v", "n": 1.5},
            "ia": [1, 2, 3],
            "ia2": None,
            "ta": ["a", "b c"],
            "na": [Decimal128("1.5"), None, Decimal128("2.25")],
            "da": [dt.datetime(2020, 1, 1), None],
            "by": b"\x00\x01\x02\xff",
            "bt": "10101010",
            "vb": "101",
            "ip": "192.168.0.1",
            "ci": "10.0.0.0/8",
            "mac": "08:00:2b:01:02:03",
            "m": Decimal128("1234.56"),
            "e": "happy",
            "ea": ["happy", "sad"],
            "rng": "[1,10)",
            "x": "<a>1</a>",
        },
        "2": {
            "i2": -32768,
            "i4": -2147483648,
            "i8": 5,
            "num": Decimal128("-1E-10"),
            "n": Decimal128("NaN"),
            "r": float("nan"),
            "d": float("-inf"),
            "vc": "",
            "t": None,
            "b": False,
            "dt": Bad("date is infinity"),
            "ts": Bad("timestamp is -infinity"),
            "tstz": Bad("timestamptz is infinity"),
            "tm": "00:00:00",
            "tmtz": "00:00:00-03:30",
            "iv": "P-1Y-2M3DT-4H-5M-6.5S",
            "u": Binary(bytes(16), 4),
            "j": {"a.b": 1, "$x": "\x00"},
            "jb": [[1, 2], [3]],
            "ia2": [[1, 2], [3, 4]],
            "ta": [],
            "na": [Decimal128("NaN")],
            "da": Bad("element [0]: date is infinity"),
            "by": b"",
            "bt": "00000000",
            "vb": "",
            "ip": "::1",
            "ci": "2001:db8::/32",
            "mac": None,
            "m": Decimal128("-92233720368547758.08"),
            "e": "sad",
            "ea": [],
            "rng": "empty",
        },
        "3": {
            "n": Bad("34"),
            "dt": DatetimeMS(far[0]),
            "ts": DatetimeMS(far[1]),
            "tstz": DatetimeMS(far[2]),
            "iv": "PT0S",
        },
        "4": {"n": Bad("exponent")},
        "5": {},
    }


def test_postgres_types(
    pg_dsn: str, pg_schema: str, mongo: tuple[Database[dict[str, Any]], TargetProfile]
) -> None:
    schema = pg_schema
    columns = list(PG_SPELLINGS)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE TYPE {schema}.mood AS ENUM ('happy', 'sad')")
        conn.execute(f"CREATE TABLE {schema}.edge ({PG_COLUMNS.format(schema=schema)})")
        for row in PG_ROWS:
            names = list(row)
            conn.execute(
                f"INSERT INTO {schema}.edge ({', '.join(names)}) "
                f"VALUES ({', '.join(['%s'] * len(names))})",
                [row[n] for n in names],
                prepare=False,
            )

    # 1. The spellings the reader will pass in.
    url = "postgresql+psycopg://" + pg_dsn.split("://", 1)[1]
    with pytest.warns(sa.exc.SAWarning, match="xml"):
        spelled = reflected_types(url, "edge", schema)
    assert spelled == {k: v.format(schema=schema) for k, v in PG_SPELLINGS.items()}
    sql_types = dict(spelled, x="xml")  # the reader's fallback for NullType columns

    # 2. Read as the reader does; a fresh (non-autocommit) connection.
    select = ", ".join(postgres_types.select_expression(sql_types[c], f'"{c}"') for c in columns)
    converters = [postgres_types.converter_for(sql_types[c]) for c in columns]
    with psycopg.connect(pg_dsn) as conn:
        postgres_types.configure_connection(conn)
        rows = conn.execute(f"SELECT {select} FROM {schema}.edge ORDER BY id").fetchall()
        # PostgreSQL 14+ extract() returns exact numeric seconds.
        far = conn.execute(
            "SELECT floor(extract(epoch FROM %s::timestamptz) * 1000)::bigint,"
            " floor(extract(epoch FROM %s::timestamptz) * 1000)::bigint,"
            " floor(extract(epoch FROM %s::timestamptz) * 1000)::bigint",
            ["0044-03-15 00:00:00+00 BC", "10000-01-01 00:00:00+00", PG_ROWS[2]["tstz"]],
        ).fetchone()
    assert far is not None
    docs = []
    expected = _pg_expected(far)
    for row in rows:
        doc: dict[str, Any] = {}
        for name, convert, value in zip(columns, converters, row, strict=True):
            doc[name] = convert(value) if convert is not None else value
        want = expected[str(doc["id"])]
        for name in columns[1:]:
            exp = want.get(name)
            assert same(doc[name], exp), (doc["id"], name, doc[name], exp)
        # The builder routes markers through the error policy; they never reach the target.
        docs.append(
            {"_id": doc["id"]}
            | {k: v for k, v in doc.items() if k != "id" and not isinstance(v, Unconvertible)}
        )

    # 3. Through the target and back.
    flagged = check_target(mongo, "pg_edge", docs)
    _, profile = mongo
    if profile.ferretdb_v1:
        assert flagged == {
            1: ["num", "n", "j.big", "na.0", "na.2", "m"],
            2: ["num", "n", "r", "d", "j", "j.$x", "jb.0", "jb.1", "ia2.0", "ia2.1", "na.0", "m"],
            3: [],  # BC / year 10000+ dates are fine as BSON datetimes
            4: [],
            5: [],
        }
    elif not profile.ferretdb:
        assert all(paths == [] for paths in flagged.values())

    # int32 vs int64 is decided by value, not by column type.
    db, _ = mongo
    one = db["pg_edge"].find_one({"_id": 1})
    two = db["pg_edge"].find_one({"_id": 2})
    assert one is not None and two is not None
    assert type(one["i4"]) is int and type(one["i8"]) is Int64
    assert type(two["i8"]) is int  # a bigint column value of 5 is stored as int32


# ---------------------------------------------------------------------------------------
# MariaDB / MySQL


MY_COLUMNS = """
    id int PRIMARY KEY,
    ti1 tinyint(1), ti tinyint, bu bigint unsigned, b bigint, i int,
    d65 decimal(65, 30), d102 decimal(10, 2), f float, d double,
    dt date, dtm datetime(6), ts timestamp(3) NULL, tm time(6), y year,
    j json, bt bit(12), b1 bit(1), st set('a','b','c'), en enum('x','y'),
    c36 char(36), bin16 binary(16), vb varbinary(20), bl blob, tx text, u uuid, p point
"""

MY_SPELLINGS = {
    "id": "integer(11)",
    "ti1": "tinyint(1)",
    "ti": "tinyint(4)",
    "bu": "bigint(20) unsigned",
    "b": "bigint(20)",
    "i": "integer(11)",
    "d65": "decimal(65, 30)",
    "d102": "decimal(10, 2)",
    "f": "float",
    "d": "double",
    "dt": "date",
    "dtm": "datetime(6)",
    "ts": "timestamp(3)",
    "tm": "time(6)",
    "y": "year(4)",
    # MariaDB's JSON is LONGTEXT + CHECK (json_valid(...)): SQLAlchemy cannot tell.
    "j": "longtext character set utf8mb4 collate utf8mb4_bin",
    "bt": "bit(12)",
    "b1": "bit(1)",
    "st": "set('a','b','c')",
    "en": "enum('x','y')",
    "c36": "char(36)",
    "bin16": "binary(16)",
    "vb": "varbinary(20)",
    "bl": "blob",
    "tx": "text",
    "u": "uuid",
    "p": "<not compilable>",  # spatial types (and inet4/inet6): SQLAlchemy has no type
}

MY_INSERTS = [
    # Written with time_zone '+05:00': the TIMESTAMP is stored as 2024-02-29 00:00:00.123 UTC.
    """(1, 1, -128, 18446744073709551615, -9223372036854775808, 2147483647,
        12345678901234567890.123, -12345678.90, 0.1, 1e308,
        '2024-02-29', '2024-02-29 12:34:56.789123', '2024-02-29 05:00:00.123', '-838:59:59', 2155,
        '{"a": {"b": [1, 2.5, null]}, "big": 18446744073709551615}', b'101010111100', b'1',
        'a,c', 'y', '12345678-1234-5678-1234-567812345678',
        UNHEX('00112233445566778899aabbccddeeff'), X'00ff', X'', 'héllo',
        '12345678-1234-5678-1234-567812345678', ST_GeomFromText('POINT(1 2)'))""",
    """(2, 5, 0, 5, 5, -2147483648, -1, 0, NULL, -0.5,
        '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '25:00:00.5', 0,
        '{"a.b": 1, "$x": [[1]]}', b'0', b'0', '', 'x',
        NULL, NULL, NULL, NULL, NULL, NULL, NULL)""",
    """(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2020-00-01',
        '2020-01-00 10:00:00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
        NULL, NULL, NULL, NULL, NULL)""",
]

MY_EXPECTED: dict[int, dict[str, Any]] = {
    1: {
        "ti1": True,
        "ti": -128,
        "bu": Decimal128("18446744073709551615"),
        "b": -9223372036854775808,
        "i": 2147483647,
        "d65": Decimal128(Decimal("12345678901234567890.123")),
        "d102": Decimal128("-12345678.90"),
        "f": 0.1,
        "d": 1e308,
        "dt": dt.datetime(2024, 2, 29),
        "dtm": dt.datetime(2024, 2, 29, 12, 34, 56, 789000),
        "ts": dt.datetime(2024, 2, 29, 0, 0, 0, 123000),
        "tm": "-838:59:59",
        "y": 2155,
        "j": {"a": {"b": [1, 2.5, None]}, "big": Decimal128("18446744073709551615")},
        "bt": 0xABC,
        "b1": True,
        "st": ["a", "c"],
        "en": "y",
        "c36": "12345678-1234-5678-1234-567812345678",
        "bin16": bytes.fromhex("00112233445566778899aabbccddeeff"),
        "vb": b"\x00\xff",
        "bl": b"",
        "tx": "héllo",
        "u": Binary(UUID.bytes, 4),
        "p": {"type": "Point", "coordinates": [1, 2]},
    },
    2: {
        "ti1": 5,  # TINYINT(1) holding 5 is not a boolean
        "ti": 0,
        "bu": 5,
        "b": 5,
        "i": -2147483648,
        "d65": Decimal128(Decimal("-1")),
        "d102": Decimal128("0.00"),
        "f": None,
        "d": -0.5,
        "dt": Bad("zero date"),
        "dtm": Bad("zero datetime"),
        "ts": Bad("zero datetime"),
        "tm": "25:00:00.500000",
        "y": 0,
        "j": {"a.b": 1, "$x": [[1]]},
        "bt": 0,
        "b1": False,
        "st": [],
        "en": "x",
    },
    3: {"dt": Bad("invalid MySQL date"), "dtm": Bad("invalid MySQL datetime")},
}


def test_mariadb_types(
    my_params: dict[str, Any], my_table: str, mongo: tuple[Database[dict[str, Any]], TargetProfile]
) -> None:
    table = my_table
    columns = list(MY_SPELLINGS)
    with pymysql.connect(**my_params) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE `{table}` ({MY_COLUMNS})")
        cur.execute("SET SESSION sql_mode = ''")  # allow the zero dates legacy data has
        cur.execute("SET SESSION time_zone = '+05:00'")
        for values in MY_INSERTS:
            cur.execute(f"INSERT INTO `{table}` VALUES {values}")

    p = my_params
    url = sa.URL.create(
        "mysql+pymysql",
        username=p["user"],
        password=p["password"],
        host=p["host"],
        port=p["port"],
        database=p["database"],
    ).render_as_string(hide_password=False)
    with pytest.warns(sa.exc.SAWarning, match="point"):
        spelled = reflected_types(url, table)
    assert spelled == MY_SPELLINGS
    # The reader's job: "json" when it knows (MariaDB: the json_valid check), the raw
    # type name for columns SQLAlchemy cannot compile.
    sql_types = dict(spelled, j="json", p="point")

    select = ", ".join(mysql_types.select_expression(sql_types[c], f"`{c}`") for c in columns)
    converters = [mysql_types.converter_for(sql_types[c]) for c in columns]
    with (
        pymysql.connect(**p, init_command="SET time_zone = '+00:00'") as conn,
        conn.cursor() as cur,
    ):
        cur.execute(f"SELECT {select} FROM `{table}` ORDER BY id")
        rows = cur.fetchall()

    docs = []
    for row in rows:
        doc = {
            name: (convert(value) if convert is not None else value)
            for name, convert, value in zip(columns, converters, row, strict=True)
        }
        want = MY_EXPECTED[doc["id"]]
        for name in columns[1:]:
            assert same(doc[name], want.get(name)), (doc["id"], name, doc[name], want.get(name))
        docs.append(
            {"_id": doc["id"]}
            | {k: v for k, v in doc.items() if k != "id" and not isinstance(v, Unconvertible)}
        )

    flagged = check_target(mongo, "my_edge", docs)
    _, profile = mongo
    if profile.ferretdb_v1:
        assert flagged == {
            1: ["bu", "d65", "d102", "j.big"],
            2: ["d65", "d102", "j", "j.$x"],
            3: [],
        }
    elif not profile.ferretdb:
        assert all(paths == [] for paths in flagged.values())

    db, _ = mongo
    one = db["my_edge"].find_one({"_id": 1})
    assert one is not None
    assert type(one["b"]) is Int64 and type(one["i"]) is int
