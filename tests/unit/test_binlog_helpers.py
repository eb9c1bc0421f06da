"""Pure helpers of the binlog capture: positions, value conversion, DDL and grant parsing."""

from __future__ import annotations

import datetime as dt

import pytest

from relmig.errors import SourceError
from relmig.source.binlog import (
    FilePosition,
    GtidPosition,
    _image,
    binlog_converter,
    ddl_targets,
    parse_grants,
    parse_position,
)
from relmig.source.values import Unconvertible


def test_positions_parse_and_print_back():
    assert parse_position("file:mysql-bin.000003:1234") == FilePosition("mysql-bin.000003", 1234)
    assert parse_position("file:/var/log/my:bin.000001:4") == FilePosition(
        "/var/log/my:bin.000001", 4
    )
    gtid = parse_position("gtid:1-2-7,0-1-42")
    assert isinstance(gtid, GtidPosition)
    assert str(gtid) == "gtid:0-1-42,1-2-7"  # sorted by domain
    assert str(parse_position("gtid:")) == "gtid:"
    for bad in ("", "0-1-42", "gtid:0-1", "gtid:a-b-c", "file:x", "file::5", "file:x:-1"):
        with pytest.raises(SourceError, match="malformed binlog position"):
            parse_position(bad)


def test_gtid_position_advances_per_domain_and_compares():
    start = GtidPosition.parse("0-1-42")
    assert str(start.after("0-1-43")) == "gtid:0-1-43"
    assert str(start.after("2-5-1")) == "gtid:0-1-42,2-5-1"
    assert str(GtidPosition.parse("").after("0-1-1")) == "gtid:0-1-1"
    later = GtidPosition.parse("0-1-50,2-5-1")
    assert later.covers(start) and not start.covers(later)
    assert start.covers(GtidPosition.parse("")) and start.covers(start)
    assert not GtidPosition.parse("").covers(start)
    assert start.seq(0) == 42 and start.seq(3) is None


@pytest.mark.parametrize(
    ("sql_type", "binlog", "selected"),
    [
        ("binary(4)", b"ab", b"ab\0\0"),
        ("binary(4)", b"abcd", b"abcd"),
        ("bit(10)", "1010000011", b"\x02\x83"),
        ("bit(1)", "1", b"\x01"),
        ("bit", "0", b"\x00"),
        ("bit(64)", "1" * 64, b"\xff" * 8),
        ("set('x','y','z')", {"z", "x"}, "x,z"),
        ("set('it''s','b')", {"it's"}, "it's"),
        ("year(4)", 1900, 0),
        ("year(4)", 2024, 2024),
        ("float", 1.100000023841858, 1.1),
        ("float", 3.1415927410125732, 3.14159),
        ("float", 123456792.0, 123457000.0),
        ("float(10, 4)", 12345.6787109375, 12345.6787),
        (
            "uuid",
            bytes.fromhex("a0eebc999c0b4ef8bb6d6bb9bd380a11"),
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        ),
        ("inet4", b"\n\0\0\1", "10.0.0.1"),
        # The binlog drops a fixed-width value's trailing zero bytes; SELECT has them.
        (
            "uuid",
            bytes.fromhex("a0eebc999c0b4ef8bb6d6bb9bd38"),
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380000",
        ),
        ("uuid", b"", "00000000-0000-0000-0000-000000000000"),
        ("inet6", bytes.fromhex("20010db8"), "2001:db8::"),
        ("inet6", b"", "::"),
        ("inet4", b"\n", "10.0.0.0"),
        ("inet4", b"", "0.0.0.0"),
        ("binary(3)", b"", b"\0\0\0"),
        ("varbinary(8)", "", b""),
        ("tinyblob", "", b""),
        ("varbinary(8)", b"a\0", b"a\0"),
        # TIMESTAMP's zero is stored as 0, the library reads it as the epoch
        ("timestamp(6)", dt.datetime(1970, 1, 1), "0000-00-00 00:00:00.000000"),
        ("timestamp", dt.datetime(1970, 1, 1), "0000-00-00 00:00:00"),
        ("timestamp", dt.datetime(1970, 1, 1, 0, 0, 1), dt.datetime(1970, 1, 1, 0, 0, 1)),
        # a negative TIME with a fraction: -(s + 1 - f) from the library for -(s + f)
        ("time(6)", -dt.timedelta(seconds=0.999999), -dt.timedelta(microseconds=1)),
        ("time(6)", -dt.timedelta(seconds=45296.210988), -dt.timedelta(seconds=45296.789012)),
        ("time(1)", -dt.timedelta(seconds=3600.8), -dt.timedelta(seconds=3600.2)),
        ("time(1)", -dt.timedelta(seconds=1.5), -dt.timedelta(seconds=1.5)),
        ("time", -dt.timedelta(hours=838, minutes=59, seconds=59), -dt.timedelta(seconds=3020399)),
        ("time(6)", dt.timedelta(seconds=1.5), dt.timedelta(seconds=1.5)),
    ],
)
def test_binlog_values_become_select_values(sql_type, binlog, selected):
    convert = binlog_converter(sql_type)
    assert convert is not None
    assert convert(binlog) == selected


@pytest.mark.parametrize(
    ("text", "hex_"),
    [
        ("::ffff:1.2.3.4", "00000000000000000000ffff01020304"),
        ("::ffff:0.0.0.0", "00000000000000000000ffff00000000"),
        ("::1.2.3.4", "00000000000000000000000001020304"),
        ("::0.255.0.1", "000000000000000000000000 00ff0001"),
        ("::100", "00000000000000000000000000000100"),
        ("::1", "00000000000000000000000000000001"),
        ("::", "00000000000000000000000000000000"),
        ("2001:db8::1:0:0:1", "20010db8000000000001000000000001"),
        ("1:0:0:2::3", "00010000000000020000000000000003"),
    ],
)
def test_inet6_is_printed_as_mariadb_prints_it(text, hex_):
    convert = binlog_converter("inet6")
    assert convert is not None
    assert convert(bytes.fromhex(hex_.replace(" ", ""))) == text


@pytest.mark.parametrize(
    "sql_type",
    [
        "integer(11)",
        "bigint(20) unsigned",
        "varchar(20)",
        "char(5)",
        "decimal(10, 2)",
        "datetime(6)",
        "date",
        "enum('a','b')",
        "double",
        "text",
    ],
)
def test_values_the_binlog_already_gives_as_select_does(sql_type):
    assert binlog_converter(sql_type) is None


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("TRUNCATE t", ("TRUNCATE", ["db.t"])),
        ("truncate table other.`T x`", ("TRUNCATE", ["other.T x"])),
        ("ALTER TABLE t ADD COLUMN x int", ("ALTER", ["db.t"])),
        ("ALTER ONLINE IGNORE TABLE IF EXISTS `d`.`t` ENGINE=InnoDB", ("ALTER", ["d.t"])),
        ("/* c */ alter table t rename to u", ("ALTER", ["db.t"])),
        ("DROP TABLE IF EXISTS `zz`,`x`.`y` /* generated by server */", ("DROP", ["db.zz", "x.y"])),
        ("DROP TEMPORARY TABLE t", None),
        ("DROP DATABASE IF EXISTS shop", ("DROP", ["shop.*"])),
        ("drop schema `shop`", ("DROP", ["shop.*"])),
        ("RENAME TABLE a TO b, x.c TO d", ("RENAME", ["db.a", "db.b", "x.c", "db.d"])),
        ("RENAME TABLE a WAIT 5 TO b", ("RENAME", ["db.a", "db.b"])),
        ("CREATE OR REPLACE TABLE t (a int)", ("CREATE OR REPLACE", ["db.t"])),
        ("CREATE TABLE t (a int)", None),
        ("CREATE OR REPLACE VIEW v AS SELECT 1", None),
        ("CREATE INDEX i ON t (a)", None),
        ("ANALYZE TABLE t", None),
        ("INSERT INTO t VALUES (1)", None),
        ("ALTER DATABASE db CHARACTER SET utf8mb4", None),
        ("ALTER TABLE `we``ird` ADD x int", ("ALTER", ["db.we`ird"])),
    ],
)
def test_ddl_targets(sql, expected):
    assert ddl_targets(sql, "db") == expected


def test_grants_by_object_without_column_or_routine_grants():
    grants = parse_grants(
        [
            "GRANT RELOAD, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `u`@`%` "
            "IDENTIFIED BY PASSWORD '*AB'",
            "GRANT SELECT, INSERT ON `shop`.* TO `u`@`%`",
            "GRANT SELECT ON `my\\_db`.`orders` TO `u`@`%`",
            "GRANT SELECT (`a`, `b`), UPDATE ON `x`.`t` TO `u`@`%`",
            "GRANT EXECUTE ON PROCEDURE `x`.`p` TO `u`@`%`",
            "GRANT `role1` TO `u`@`%`",
            "GRANT ALL PRIVILEGES ON `all%`.* TO `u`@`%` WITH GRANT OPTION",
        ]
    )
    assert grants == {
        ("*", "*"): {"RELOAD", "REPLICATION SLAVE", "BINLOG MONITOR"},
        ("shop", "*"): {"SELECT", "INSERT"},
        ("my\\_db", "orders"): {"SELECT"},
        ("x", "t"): {"UPDATE"},
        ("all%", "*"): {"ALL PRIVILEGES"},
    }


def test_a_value_the_decoder_cannot_read_is_marked_not_raised():
    """A value no converter can read becomes the row's problem (an issue under the error
    policy, with table, key and column), never an exception that kills the job."""
    convert = {"u": binlog_converter("uuid"), "b": binlog_converter("binary(2)")}
    image = _image(
        {"id": 1, "u": b"\x01" * 17, "b": b"x"}, {}, convert, {"u": "uuid", "b": "binary(2)"}
    )
    assert image["id"] == 1 and image["b"] == b"x\0"
    bad = image["u"]
    assert isinstance(bad, Unconvertible)
    assert "uuid column could not be read" in bad.reason and "\\x01" in bad.raw
