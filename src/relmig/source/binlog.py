"""MySQL / MariaDB change data capture from the binlog (mysql-replication over PyMySQL).

Positions are strings the job stores as they are:

* ``gtid:0-1-42,1-2-7`` on MariaDB: the last GTID per replication domain, as in
  ``@@gtid_binlog_pos`` (empty after ``gtid:`` when the server has logged nothing yet);
* ``file:mysql-bin.000003:1234`` elsewhere: binlog file and the offset after a commit.

The library restarts a dropped connection from the position it was constructed with, which would
replay or skip changes; so its connections surface every loss to us, and we rebuild the reader
from the last position we fully read.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pymysql
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.constants import NONE_SOURCE
from pymysqlreplication.event import (
    HeartbeatLogEvent,
    MariadbGtidEvent,
    NotImplementedEvent,
    QueryEvent,
    RotateEvent,
    XAPrepareEvent,
    XidEvent,
)
from pymysqlreplication.row_event import (
    DeleteRowsEvent,
    PartialUpdateRowsEvent,
    RowsEvent,
    UpdateRowsEvent,
    WriteRowsEvent,
)

from relmig.errors import PositionLost, SourceError, SourceRefused, StreamError
from relmig.project.cascades import binlog_cascades
from relmig.project.model import Project, Table
from relmig.source.capture import Backlog, ChangeCapture, Prerequisite, SourceLag, mapped_tables
from relmig.source.changes import (
    ChangeStream,
    Heartbeat,
    Image,
    RowChange,
    TableTruncate,
    Transaction,
    last_change,
)
from relmig.source.drift import (
    TABLE_GONE,
    Drift,
    DriftSink,
    act_on,
    current_drift,
)
from relmig.source.mysql import Connection, MySqlSource, security_settings
from relmig.source.refusals import refusal
from relmig.source.spool import SpooledChanges
from relmig.source.values import Unconvertible
from relmig.timeouts import stream_timeout

__all__ = [
    "BinlogCapture",
    "BinlogStream",
    "FilePosition",
    "GtidPosition",
    "binlog_converter",
    "ddl_targets",
    "parse_grants",
    "parse_position",
]

Converter = Callable[[Any], Any]
_Converters = dict[str, Converter]  # column → converter, for the columns that need one


def watched_tables(project: Project) -> list[Table]:
    """The mapped tables, and the parents whose deletes and key changes cascade into them: the
    binlog logs no row of a cascade, so the parent's change is all there is to route."""
    mapped = mapped_tables(project)
    ids = {t.id for t in mapped}
    parents = {c.parent for c in binlog_cascades(project) if c.child in ids} - ids
    return mapped + [project.table(p) for p in sorted(parents)]


# --- positions --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FilePosition:
    file: str
    offset: int

    def __str__(self) -> str:
        return f"file:{self.file}:{self.offset}"


@dataclass(frozen=True, slots=True)
class GtidPosition:
    """The last GTID applied in each MariaDB replication domain."""

    domains: tuple[tuple[int, int, int], ...]  # (domain, server_id, seq_no), sorted by domain

    @classmethod
    def parse(cls, text: str) -> GtidPosition:
        """``"0-1-42,1-2-7"`` (``@@gtid_binlog_pos``, a Gtid_list's contents) → position."""
        found: dict[int, tuple[int, int, int]] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            domain, server, seq = (int(n) for n in part.split("-"))
            found[domain] = (domain, server, seq)
        return cls(tuple(sorted(found.values())))

    @property
    def gtids(self) -> str:
        return ",".join(f"{d}-{s}-{n}" for d, s, n in self.domains)

    def seq(self, domain: int) -> int | None:
        return next((n for d, _, n in self.domains if d == domain), None)

    def after(self, gtid: str) -> GtidPosition:
        """This position once the transaction with ``gtid`` is applied."""
        return GtidPosition.parse(f"{self.gtids},{gtid}")

    def covers(self, other: GtidPosition) -> bool:
        """Every transaction up to ``other`` is also up to ``self``."""
        return all((self.seq(d) or 0) >= n for d, _, n in other.domains)

    def __str__(self) -> str:
        return f"gtid:{self.gtids}"


def parse_position(text: str) -> FilePosition | GtidPosition:
    try:
        if text.startswith("gtid:"):
            return GtidPosition.parse(text[5:])
        if text.startswith("file:"):
            file, offset = text[5:].rsplit(":", 1)
            if file and int(offset) >= 0:
                return FilePosition(file, int(offset))
    except ValueError:
        pass
    raise SourceError(
        f"malformed binlog position {text!r} (expected gtid:D-S-N,... or file:NAME:OFFSET)"
    )


# --- row values -------------------------------------------------------------------------------

_TYPE_RE = re.compile(r"^\s*([a-z0-9_]+)\s*(?:\(([^)]*)\))?", re.IGNORECASE)
_QUOTED_RE = re.compile(r"'((?:[^']|'')*)'")


def _inet6(value: bytes) -> str:
    """MariaDB's text form (inet_ntop's): IPv4-mapped and -compatible tails are dotted."""
    if value[:10] == bytes(10):
        if value[10:12] == b"\xff\xff":
            return "::ffff:" + str(ipaddress.IPv4Address(value[12:]))
        if value[10:12] == b"\0\0" and value[12:14] != b"\0\0":
            return "::" + str(ipaddress.IPv4Address(value[12:]))
    return str(ipaddress.IPv6Address(value))


def _set_text(members: list[str]) -> Converter:
    return lambda value: ",".join(m for m in members if m in value)


def _bits(width: int) -> Converter:
    return lambda value: int(value, 2).to_bytes((width + 7) // 8, "big")


# The binlog drops the trailing zero bytes of a fixed-width binary value (Field_string::pack
# strips the pad character, which is 0x00 for a binary column); the server pads them back on
# SELECT. Width in bytes per fixed-width type that stores binary; BINARY(n) has its own n.
_FIXED_WIDTH = {"uuid": 16, "inet6": 16, "inet4": 4}


def _padded(width: int, then: Converter | None = None) -> Converter:
    def pad(value: bytes | str) -> bytes:
        # A value trimmed to nothing arrives as an empty str, not bytes.
        raw = value.encode("latin-1") if isinstance(value, str) else value
        return raw.ljust(width, b"\0")

    if then is None:
        return pad
    return lambda value: then(pad(value))


def _uuid_text(value: bytes) -> str:
    return str(uuid.UUID(bytes=value))


def _inet4(value: bytes) -> str:
    return str(ipaddress.IPv4Address(value))


def _as_bytes(value: bytes | str) -> bytes:
    """An empty binary string arrives as an empty str."""
    return value.encode("latin-1") if isinstance(value, str) else value


def _negative_time(value: dt.timedelta) -> dt.timedelta:
    """mysql-replication decodes a negative TIME with a fraction as -(s + 1 - f) for -(s + f)
    (-00:00:00.1 arrives as -0.9 s): TIME2 stores such a value's integer part one lower and its
    fraction complemented, and the library reads the fraction as it is."""
    if value >= dt.timedelta(0):
        return value
    whole, fraction = divmod(-value, dt.timedelta(seconds=1))
    if not fraction:
        return value
    return -(whole * dt.timedelta(seconds=1) + (dt.timedelta(seconds=1) - fraction))


def _zero_timestamp(fsp: int) -> Converter:
    """TIMESTAMP '0000-00-00 00:00:00' is stored as 0, which the library reads as the epoch (a
    value no TIMESTAMP can hold: its range starts at 00:00:01); SELECT prints the zero text."""
    zero = "0000-00-00 00:00:00" + ("." + "0" * fsp if fsp else "")
    epoch = dt.datetime(1970, 1, 1)  # the library gives naive UTC values

    def convert(value: dt.datetime) -> dt.datetime | str:
        return zero if value == epoch else value

    return convert


def binlog_converter(sql_type: str) -> Converter | None:
    """What turns mysql-replication's value for a column into PyMySQL's for the same column.

    Key and foreign key values from row images query the source, so they must be what a SELECT
    returns. None where the two already agree (integers, strings, decimals, temporals).
    """
    m = _TYPE_RE.match(sql_type)
    if m is None:
        return None
    base, args = m.group(1).lower(), (m.group(2) or "").strip()
    if base == "binary":
        return _padded(int(args or 1))
    if base in _FIXED_WIDTH:
        text = {"uuid": _uuid_text, "inet6": _inet6, "inet4": _inet4}[base]
        return _padded(_FIXED_WIDTH[base], text)
    if base in ("varbinary", "tinyblob", "blob", "mediumblob", "longblob"):
        return _as_bytes
    if base == "time":
        return _negative_time
    if base == "timestamp":
        return _zero_timestamp(int(args or 0))
    if base == "bit":  # a string of 0/1 digits; SELECT gives big-endian bytes
        return _bits(int(args or 1))
    if base == "set":  # a Python set; SELECT gives the members in definition order
        return _set_text([s.replace("''", "'") for s in _QUOTED_RE.findall(sql_type)])
    if base == "year":  # YEAR 0000 arrives as 1900 (stored 0 + 1900)
        return lambda value: 0 if value == 1900 else value
    if base == "float":  # a float32's exact value; SELECT prints 6 digits or the declared scale
        scale = args.split(",")[1].strip() if "," in args else None
        if scale is not None:
            digits = int(scale)
            return lambda value: round(value, digits)
        return lambda value: float(f"{value:.6g}")
    return None


# Dates with a zero part: the library reads them as None and says why.
_LOST_DATES = {
    NONE_SOURCE.OUT_OF_DATE_RANGE,
    NONE_SOURCE.OUT_OF_DATETIME_RANGE,
    NONE_SOURCE.OUT_OF_DATETIME2_RANGE,
}


def _image(
    values: dict[str, Any],
    none_sources: dict[str, str],
    convert: _Converters,
    types: dict[str, str],
) -> Image:
    image = dict(values)
    for name, converter in convert.items():
        value = image.get(name)
        if value is not None:
            try:
                image[name] = converter(value)
            except Exception as exc:  # a decoder failure is the value's, never the job's
                image[name] = Unconvertible(
                    f"the binlog's value of this {types[name]} column could not be read "
                    f"({type(exc).__name__}: {exc})",
                    repr(value)[:200],
                )
        elif none_sources.get(name) == NONE_SOURCE.EMPTY_SET:
            image[name] = ""  # an empty SET, not NULL
    for name, why in none_sources.items():
        if why in _LOST_DATES:
            image[name] = Unconvertible(
                f"a zero or partly zero {types[name]} ('0000-00-00' and the like), which the "
                "binlog does not carry",
                "(not in the binlog)",
            )
    return image


# --- statements -------------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"\s+|/\*.*?\*/|(?:--\s|#)[^\n]*|`((?:[^`]|``)*)`|([\w$]+)|(.)", re.DOTALL | re.UNICODE
)


def _tokens(sql: str) -> list[tuple[str, str]]:
    """("quoted", identifier), ("name", bare word) or ("op", character); comments dropped."""
    tokens = []
    for m in _TOKEN_RE.finditer(sql):
        quoted, word, op = m.groups()
        if quoted is not None:
            tokens.append(("quoted", quoted.replace("``", "`")))
        elif word is not None:
            tokens.append(("name", word))
        elif op is not None:
            tokens.append(("op", op))
    return tokens


class _Statement:
    """A cursor over a statement's tokens, for the few DDL forms `ddl_targets` reads."""

    def __init__(self, sql: str) -> None:
        self.tokens = _tokens(sql)
        self.i = 0

    def keyword(self, *words: str) -> str | None:
        """Consume the next token if it is one of the (unquoted) keywords."""
        if self.i < len(self.tokens):
            kind, text = self.tokens[self.i]
            if kind == "name" and text.upper() in words:
                self.i += 1
                return text.upper()
        return None

    def keywords(self, *words: str) -> bool:
        """Consume ``words`` in sequence, or nothing."""
        start = self.i
        for word in words:
            if self.keyword(word) is None:
                self.i = start
                return False
        return True

    def op(self, char: str) -> bool:
        if self.i < len(self.tokens) and self.tokens[self.i] == ("op", char):
            self.i += 1
            return True
        return False

    def name(self) -> str | None:
        if self.i < len(self.tokens) and self.tokens[self.i][0] != "op":
            self.i += 1
            return self.tokens[self.i - 1][1]
        return None

    def table(self, schema: str) -> str | None:
        """``db.t`` or ``t`` (in ``schema``) → "db.t"."""
        first = self.name()
        if first is None:
            return None
        if self.op("."):
            second = self.name()
            return f"{first}.{second}" if second is not None else None
        return f"{schema}.{first}"

    def tables(self, schema: str) -> list[str]:
        """A comma-separated list of tables."""
        found = []
        while (table := self.table(schema)) is not None:
            found.append(table)
            if not self.op(","):
                break
        return found


def ddl_targets(sql: str, schema: str) -> tuple[str, list[str]] | None:
    """The verb and tables ("db.t", or "db.*" for a whole database) of a statement that
    truncates, alters, drops, renames or replaces tables; None for any other statement.

    ``schema`` is the session's database, which unqualified names belong to.
    """
    st = _Statement(sql)
    verb = st.keyword("TRUNCATE", "ALTER", "DROP", "RENAME", "CREATE")
    if verb == "TRUNCATE":
        st.keyword("TABLE")
        target = st.table(schema)
        return (verb, [target]) if target else None
    if verb == "ALTER":
        while st.keyword("ONLINE", "IGNORE"):
            pass
        if not st.keyword("TABLE"):
            return None
        st.keywords("IF", "EXISTS")
        target = st.table(schema)
        return (verb, [target]) if target else None
    if verb == "DROP":
        if st.keyword("DATABASE", "SCHEMA"):
            st.keywords("IF", "EXISTS")
            database = st.name()
            return (verb, [f"{database}.*"]) if database else None
        if not st.keyword("TABLE", "TABLES"):  # also DROP TEMPORARY TABLE: not a real table
            return None
        st.keywords("IF", "EXISTS")
        return verb, st.tables(schema)
    if verb == "RENAME":
        if not st.keyword("TABLE", "TABLES"):
            return None
        st.keywords("IF", "EXISTS")
        found = []
        while (old := st.table(schema)) is not None:
            st.keyword("NOWAIT")
            if st.keyword("WAIT"):
                st.name()
            if not st.keyword("TO") or (new := st.table(schema)) is None:
                break
            found += [old, new]
            if not st.op(","):
                break
        return verb, found
    if verb == "CREATE" and st.keywords("OR", "REPLACE"):
        if not st.keyword("TABLE"):  # CREATE OR REPLACE TEMPORARY TABLE, VIEW, ...
            return None
        target = st.table(schema)
        return ("CREATE OR REPLACE", [target]) if target else None
    return None


_TXN_END_RE = re.compile(r"^\s*(?:COMMIT|ROLLBACK|XA\s+(?:COMMIT|ROLLBACK))\b", re.IGNORECASE)
_BEGIN_RE = re.compile(r"^\s*(?:BEGIN|XA\s+(?:START|BEGIN))\b", re.IGNORECASE)


# --- grants -----------------------------------------------------------------------------------

_GRANT_RE = re.compile(r"^GRANT\s+(.+?)\s+ON\s+(.+?)\s+TO\s", re.IGNORECASE | re.DOTALL)
_OBJECT_RE = re.compile(r"^(?:`((?:[^`]|``)*)`|(\*))\.(?:`((?:[^`]|``)*)`|(\*))$")


def parse_grants(lines: Iterable[str]) -> dict[tuple[str, str], set[str]]:
    """SHOW GRANTS lines → {(database pattern, table or "*"): privileges}, "*.*" as ("*", "*").

    Column-level, routine and proxy grants are left out: none of them gives what CDC needs.
    """
    grants: dict[tuple[str, str], set[str]] = {}
    for line in lines:
        m = _GRANT_RE.match(line)
        obj = _OBJECT_RE.match(m.group(2).strip()) if m else None
        if m is None or obj is None:
            continue
        database = (obj.group(1) or "").replace("``", "`") or "*"
        table = (obj.group(3) or "").replace("``", "`") or "*"
        privileges = re.split(r",\s*(?![^()]*\))", m.group(1))
        grants.setdefault((database, table), set()).update(
            " ".join(p.upper().split()) for p in privileges if "(" not in p
        )
    return grants


def _database_matches(pattern: str, database: str) -> bool:
    """A grant's database pattern (LIKE wildcards % and _, backslash escapes) vs a name."""
    if pattern == "*":
        return True
    regex = "".join(
        ".*" if tok == "%" else "." if tok == "_" else re.escape(tok[-1])
        for tok in re.findall(r"\\.|.", pattern, re.DOTALL)
    )
    return re.fullmatch(regex, database, re.DOTALL) is not None


def _has_privilege(
    grants: dict[tuple[str, str], set[str]], names: set[str], database: str = "*", table: str = "*"
) -> bool:
    """Whether one of ``names`` (or ALL) is granted globally, on ``database`` or on ``table``."""
    accepted = names | {"ALL PRIVILEGES", "ALL"}
    return any(
        privileges & accepted
        and tbl in ("*", table)
        and (db == "*" or (database != "*" and _database_matches(db, database)))
        for (db, tbl), privileges in grants.items()
    )


def _quote_account(account: str) -> str:
    """CURRENT_USER()'s ``user@host`` → ``'user'@'host'`` for a GRANT."""
    user, _, host = account.rpartition("@")
    return "'{}'@'{}'".format(user.replace("'", "''"), host.replace("'", "''"))


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


# --- the capture ------------------------------------------------------------------------------


_STREAM_EVENTS = [
    RotateEvent,
    MariadbGtidEvent,
    QueryEvent,
    XidEvent,
    XAPrepareEvent,
    WriteRowsEvent,
    UpdateRowsEvent,
    PartialUpdateRowsEvent,  # MySQL's partial JSON updates; the library filters by exact class
    DeleteRowsEvent,
    HeartbeatLogEvent,
    NotImplementedEvent,  # e.g. MySQL 8's heartbeat v2: it still wakes the loop up when idle
]
_REFUSED = {1044, 1045, 1227, 1698}  # access denied, missing privilege: retrying cannot help
_GONE = 1236  # the server cannot send from the requested position (purged, unknown GTID)


class _ConnectionLost(Exception):
    """The binlog connection dropped; raised instead of PyMySQL's error so that the library
    does not reconnect from its stale start position."""


class _StreamConnection(Connection):
    def _read_packet(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super()._read_packet(*args, **kwargs)
        except pymysql.err.OperationalError as exc:
            if exc.args and exc.args[0] in (2006, 2013):
                raise _ConnectionLost(str(exc.args[-1])) from None
            raise


class _CatalogSource(MySqlSource):
    """The capture's queries name their schemas, so it connects without a default database:
    `check` then also works for an account that may not open the project's database yet."""

    def _connect_kwargs(self) -> dict[str, Any]:
        kwargs = super()._connect_kwargs()
        del kwargs["database"]
        return kwargs


def _utc(timestamp: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, pymysql.err.MySQLError) and len(exc.args) == 2:
        return f"{exc.args[1]} (error {exc.args[0]})"
    return (str(exc).strip() or type(exc).__name__).splitlines()[0]


class BinlogCapture(ChangeCapture):
    """Binlog CDC: GTID positions on MariaDB, file:offset on MySQL. Nothing lives on the
    server, so ``start`` only records where the binlog is and ``cleanup`` drops nothing."""

    SEEN_LIMIT = 10_000  # positions whose commit time and binlog offset `lag` can look up

    def __init__(self, project: Project, job_id: str, password: str | None = None) -> None:
        super().__init__(project, job_id, password)
        self._source = _CatalogSource(project.source, password)
        self.tables = watched_tables(project)
        self._lock = threading.Lock()  # one SQL connection, and lag() may come from any thread
        self._mariadb: bool | None = None
        # position → (commit time, binlog file, offset) for positions our streams yielded.
        self._seen: dict[str, tuple[dt.datetime | None, str | None, int]] = {}

    @property
    def where(self) -> str:
        return self._source.where

    def close(self) -> None:
        self._source.close()

    @property
    def address(self) -> str:
        return f"{self.project.source.host}:{self._source.port}"

    def _fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._source.fetch(sql, params)

    def _variables(self, *names: str) -> dict[str, str]:
        marks = ", ".join(["%s"] * len(names))
        rows = self._fetch(f"SHOW GLOBAL VARIABLES WHERE Variable_name IN ({marks})", names)
        return {str(name).lower(): str(value) for name, value in rows}

    @property
    def is_mariadb(self) -> bool:
        if self._mariadb is None:
            self._mariadb = "mariadb" in str(self._fetch("SELECT VERSION()")[0][0]).lower()
        return self._mariadb

    def _binlog_enabled(self) -> bool:
        return self._variables("log_bin").get("log_bin", "OFF").upper() in ("ON", "1")

    def _binary_logs(self) -> list[tuple[str, int]]:
        return [(str(row[0]), int(row[1])) for row in self._fetch("SHOW BINARY LOGS")]

    def _current(self) -> FilePosition | GtidPosition:
        if not self._binlog_enabled():
            raise SourceError(
                f"the binary log is disabled on the {self.where}; CDC needs log_bin "
                "(run the CDC prerequisite check)"
            )
        if self.is_mariadb:
            return GtidPosition.parse(str(self._fetch("SELECT @@gtid_binlog_pos")[0][0] or ""))
        try:
            rows = self._fetch("SHOW MASTER STATUS")
        except SourceError:  # MySQL 8.4 renamed it
            rows = self._fetch("SHOW BINARY LOG STATUS")
        return FilePosition(str(rows[0][0]), int(rows[0][1]))

    # --- ChangeCapture ------------------------------------------------------------------------

    def check(self) -> list[Prerequisite]:
        account = _quote_account(str(self._fetch("SELECT CURRENT_USER()")[0][0]))
        grants = parse_grants(str(row[0]) for row in self._fetch("SHOW GRANTS"))
        return (
            self._missing_settings()
            + self._missing_grants(account, grants)
            + self._missing_tables(grants)
        )

    def _missing_settings(self) -> list[Prerequisite]:
        missing: list[Prerequisite] = []
        settings = self._variables(
            "log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata", "server_id"
        )
        if settings.get("log_bin", "OFF").upper() not in ("ON", "1"):
            missing.append(
                Prerequisite(
                    "log_bin",
                    "the binary log is disabled",
                    None,
                    "set log_bin (and server_id) under [mysqld] in my.cnf and restart the server",
                )
            )
        for name, wanted in (
            ("binlog_format", "ROW"),
            ("binlog_row_image", "FULL"),
            ("binlog_row_metadata", "FULL"),
        ):
            value = settings.get(name)
            if value is None:
                missing.append(
                    Prerequisite(
                        name,
                        f"the server has no {name} setting",
                        None,
                        "column names in the binlog need MariaDB 10.5 or MySQL 8.0.14; upgrade",
                    )
                )
            elif value.upper() != wanted:
                missing.append(
                    Prerequisite(
                        name,
                        f"{name} is {value}; CDC needs {wanted}",
                        f"SET GLOBAL {name} = '{wanted}';",
                        f"also set {name}={wanted} in my.cnf so that it survives a restart; "
                        "sessions already open keep the old value",
                    )
                )
        if settings.get("server_id", "0") == "0":
            missing.append(
                Prerequisite(
                    "server_id",
                    "server_id is 0, so the server does not serve binlog readers",
                    "SET GLOBAL server_id = 1;",
                    "also set server_id in my.cnf; pick an id no other server in the "
                    "replication topology uses",
                )
            )
        return missing

    def _missing_grants(
        self, account: str, grants: dict[tuple[str, str], set[str]]
    ) -> list[Prerequisite]:
        monitor = "BINLOG MONITOR" if self.is_mariadb else "REPLICATION CLIENT"
        needed = [
            ("REPLICATION SLAVE", {"REPLICATION SLAVE"}, "to read the binlog"),
            (monitor, {"BINLOG MONITOR", "REPLICATION CLIENT"}, "to see binlog positions"),
        ]
        missing = [
            Prerequisite(
                f"{name} privilege",
                f"{account} lacks {name} ({why})",
                f"GRANT {name} ON *.* TO {account};",
            )
            for name, accepted, why in needed
            if not _has_privilege(grants, accepted)
        ]
        unreadable: dict[str, list[str]] = {}
        for t in self.tables:
            if not _has_privilege(grants, {"SELECT"}, t.schema_, t.name):
                unreadable.setdefault(t.schema_, []).append(t.id)
        missing += [
            Prerequisite(
                f"SELECT privilege on {schema}",
                f"{account} cannot read {', '.join(ids)}",
                f"GRANT SELECT ON {_quote(schema)}.* TO {account};",
                snapshot=True,
            )
            for schema, ids in unreadable.items()
        ]
        return missing

    def _missing_tables(self, grants: dict[tuple[str, str], set[str]]) -> list[Prerequisite]:
        """Mapped tables that do not exist or have no primary key. The catalog only shows
        tables the account may read; the SELECT prerequisite covers the others."""
        if not self.tables:
            return []
        schemas = sorted({t.schema_ for t in self.tables})
        marks = ", ".join(["%s"] * len(schemas))
        # Not table_constraints: MariaDB hides it from an account that only has SELECT.
        rows = self._fetch(
            "SELECT t.table_schema, t.table_name, MAX(s.index_name) "
            "FROM information_schema.tables t "
            "LEFT JOIN information_schema.statistics s ON s.table_schema = t.table_schema "
            "AND s.table_name = t.table_name AND s.index_name = 'PRIMARY' "
            f"WHERE t.table_schema IN ({marks}) GROUP BY t.table_schema, t.table_name",
            tuple(schemas),
        )
        keyed = {f"{schema}.{name}": key is not None for schema, name, key in rows}
        missing = []
        for t in self.tables:
            if t.id not in keyed:
                if _has_privilege(grants, {"SELECT"}, t.schema_, t.name):
                    missing.append(Prerequisite(f"table {t.id}", "does not exist", None))
            elif not keyed[t.id]:
                missing.append(
                    Prerequisite(
                        f"primary key of {t.id}",
                        f"{t.id} has no primary key, so its changes cannot be matched to rows",
                        None,
                        f"add one: ALTER TABLE {_quote(t.schema_)}.{_quote(t.name)} "
                        "ADD PRIMARY KEY (...)",
                    )
                )
        return missing

    def start(self) -> str:
        return str(self._current())

    def stream(self, position: str, on_drift: DriftSink | None = None) -> BinlogStream:
        problem = self.position_problem(position)
        if problem:
            raise PositionLost(problem)
        return BinlogStream(self, parse_position(position), on_drift)

    def wait_visible(self, transactions: list[Transaction]) -> None:
        """A locking read of a row the batch's last transaction changed: InnoDB holds that
        row's lock until the engine commit, which follows the binlog write, and commits in
        binlog order, so once the read returns every transaction of the batch is visible."""
        for txn in reversed(transactions):
            change = last_change(txn.changes)
            if isinstance(change, RowChange):  # not a TRUNCATE (a group of its own)
                break
        else:
            return
        table = self.project.table(change.table)
        image = change.after if change.after is not None else change.before
        if not table.primary_key or image is None:
            return
        where = " AND ".join(f"{_quote(c)} = %s" for c in table.primary_key)
        self._fetch(
            f"SELECT 1 FROM {self._source.qualified(table)} WHERE {where} LOCK IN SHARE MODE",
            tuple(image[c] for c in table.primary_key),
        )

    def mark(self) -> str:
        return str(self._current())

    def reached(self, position: str, mark: str) -> bool:
        at, target = parse_position(position), parse_position(mark)
        if isinstance(at, GtidPosition) and isinstance(target, GtidPosition):
            return at.covers(target)
        if isinstance(at, FilePosition) and isinstance(target, FilePosition):
            return (at.file, at.offset) >= (target.file, target.offset)
        return False

    def position_problem(self, position: str) -> str | None:
        try:
            wanted = parse_position(position)
        except SourceError as exc:
            return str(exc)
        if not self._binlog_enabled():
            return f"the binary log is disabled on the {self.where}; start a new job once it is on"
        logs = self._binary_logs()
        if not logs:
            return f"the {self.where} has no binlog files; start a new job"
        oldest = logs[0][0]
        if isinstance(wanted, FilePosition):
            sizes = dict(logs)
            if wanted.file not in sizes:
                if wanted.file < oldest:
                    return (
                        f"the binlog holding position {position} was purged "
                        f"(oldest binlog is {oldest}); start a new job"
                    )
                return (
                    f"binlog {wanted.file} of position {position} does not exist on the "
                    f"{self.where} (binlogs {oldest} to {logs[-1][0]}); start a new job"
                )
            if wanted.offset > sizes[wanted.file]:
                return (
                    f"position {position} is past the end of {wanted.file} "
                    f"({sizes[wanted.file]} bytes); start a new job"
                )
            return None
        if not self.is_mariadb:
            return f"GTID position {position} needs MariaDB; the {self.where} is MySQL"
        before_oldest = GtidPosition.parse(self._gtid_list(oldest))
        if not wanted.covers(before_oldest):
            return (
                f"the binlog holding position {position} was purged (oldest binlog is "
                f"{oldest}, which starts after {before_oldest.gtids}); start a new job"
            )
        state = GtidPosition.parse(str(self._fetch("SELECT @@gtid_binlog_state")[0][0] or ""))
        if any((state.seq(d) or 0) < n for d, _, n in wanted.domains):
            return (
                f"position {position} is ahead of the {self.where}'s binlog "
                f"({state.gtids or 'empty'}): the binlog was reset or this is another server; "
                "start a new job"
            )
        return None

    def _gtid_list(self, log: str) -> str:
        """The GTIDs logged before binlog file ``log`` (its Gtid_list event), "" if none."""
        for row in self._fetch("SHOW BINLOG EVENTS IN %s LIMIT 4", (log,)):
            if str(row[2]) == "Gtid_list":
                return str(row[5]).strip("[] ")
        return ""

    def lag(self, position: str) -> SourceLag:
        """How far ``position`` is behind the source: time since its commit (when one of our
        streams yielded it) and binlog bytes after it (when its file:offset is known)."""
        if self.reached(position, str(self._current())):
            return SourceLag(0.0, 0)
        at = parse_position(position)
        committed, file, offset = self._seen.get(position, (None, None, 0))
        if isinstance(at, FilePosition):
            file, offset = at.file, at.offset
        seconds = (
            max(0.0, (dt.datetime.now(dt.UTC) - committed).total_seconds()) if committed else None
        )
        behind = None
        logs = self._binary_logs()
        names = [name for name, _ in logs]
        if file in names:
            later = logs[names.index(file) :]
            behind = max(0, later[0][1] - offset) + sum(size for _, size in later[1:])
        return SourceLag(seconds, behind)

    def backlog(self, position: str) -> Backlog:
        """Binlog bytes after `position`; with GTIDs (MariaDB) the transactions too, as the
        sequence numbers the server has logged since, per replication domain."""
        behind = self.lag(position).bytes
        at = parse_position(position)
        if not isinstance(at, GtidPosition):
            return Backlog(behind, None)
        now = GtidPosition.parse(str(self._fetch("SELECT @@gtid_binlog_pos")[0][0] or ""))
        waiting = sum(max(0, n - (at.seq(d) or 0)) for d, _, n in now.domains)
        return Backlog(behind, waiting)

    def _passed(
        self, position: str, committed: dt.datetime | None, file: str | None, offset: int
    ) -> None:
        """A stream yielded ``position``: remember it for `lag`, within SEEN_LIMIT entries."""
        self._seen[position] = (committed, file, offset)
        if len(self._seen) > self.SEEN_LIMIT:
            del self._seen[next(iter(self._seen))]

    def cleanup(self) -> None:
        with self._lock:
            self._source.close()

    # --- for the stream -----------------------------------------------------------------------

    def _reader_server_id(self) -> int:
        """A replica id per job: a restarted job's dump replaces its own zombie on the server,
        and two jobs never share one."""
        return 1_000_000 + zlib.crc32(self.job_id.encode()) % (2**31 - 1_000_000)

    def _connection_settings(self, read_timeout: float) -> dict[str, Any]:
        s = self.project.source
        return security_settings(s) | {
            "host": s.host,
            "port": self._source.port,
            "user": s.user,
            "password": self._source.password or "",
            "connect_timeout": 10,
            "read_timeout": read_timeout,
        }


# The server ends a binlog dump whose writes block for net_write_timeout (60 s by default),
# and the protocol has no status message a busy reader could send instead: while the applier
# works the reader does not read, so the dump session may wait this long (seconds). A dead
# reader's dump is replaced when its job reconnects with the same server id.
DUMP_WRITE_TIMEOUT = 3600


class BinlogStream(ChangeStream):
    """One job's binlog reader. Reconnects after a dropped connection, from the position
    after the last transaction it fully read (a partly read one is read again)."""

    RECONNECT_DELAYS: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)  # seconds, then give up

    def __init__(
        self,
        capture: BinlogCapture,
        position: FilePosition | GtidPosition,
        on_drift: DriftSink | None = None,
    ) -> None:
        self._capture = capture
        self._on_drift = on_drift
        self._position = position  # after the last transaction fully read
        self._confirmed = str(position)
        self._closed = False
        self._reader: BinLogStreamReader | None = None
        self._converters: dict[str, _Converters] = {}
        self._columns: dict[str, list[str]] = {}
        self._types: dict[str, dict[str, str]] = {}
        for table in capture.tables:
            self._types[table.id] = {c.name: c.type for c in table.columns}
            convert = {c.name: binlog_converter(c.type) for c in table.columns}
            self._converters[table.id] = {k: v for k, v in convert.items() if v is not None}
            self._columns[table.id] = [c.name for c in table.columns]
        self._file: str | None = position.file if isinstance(position, FilePosition) else None
        self._offset = position.offset if isinstance(position, FilePosition) else 0
        self._last_commit: dt.datetime | None = None
        self._drift([t.id for t in capture.tables])  # since the import, or while paused

    def _drift(self, table_ids: list[str], found: list[Drift] | None = None) -> None:
        """The tables' drift from the catalog now: breaking drift stops the stream here,
        additive drift is reported and read past."""
        project, password = self._capture.project, self._capture.password
        act_on((found or []) + current_drift(project, password, table_ids), self._on_drift)

    @property
    def confirmed(self) -> str:
        """The last position the job confirmed (MySQL keeps no acknowledgement itself)."""
        return self._confirmed

    def confirm(self, position: str) -> None:
        self._confirmed = position

    def keepalive(self) -> None:
        """Nothing to send: a busy reader's dump waits DUMP_WRITE_TIMEOUT instead."""

    def close(self) -> None:
        self._closed = True
        reader = self._reader  # events() may drop it meanwhile, on its own thread
        if reader is not None:
            reader.close()

    def _open(self, idle_seconds: float) -> BinLogStreamReader:
        beat = max(idle_seconds / 4, 0.05)  # server heartbeats while the binlog is idle
        tables = self._capture.tables
        options: dict[str, Any] = {
            # The server sends a heartbeat every `beat` seconds when it has nothing else, so
            # a read that waits the stream timeout (PyMySQL's socket timeout) means a stall.
            "connection_settings": self._capture._connection_settings(stream_timeout())
            | {"init_command": f"SET SESSION net_write_timeout = {DUMP_WRITE_TIMEOUT}"},
            "server_id": self._capture._reader_server_id(),
            "blocking": True,
            "only_events": _STREAM_EVENTS,
            "only_schemas": sorted({t.schema_ for t in tables}),
            "only_tables": sorted({t.name for t in tables}),
            "slave_heartbeat": beat,
            "filter_non_implemented_events": False,
            "pymysql_wrapper": _StreamConnection,
            "enable_logging": False,
        }
        pos = self._position
        if isinstance(pos, GtidPosition):
            return BinLogStreamReader(**options, is_mariadb=True, auto_position=pos.gtids)
        return BinLogStreamReader(
            **options, resume_stream=True, log_file=pos.file, log_pos=pos.offset
        )

    def events(self, idle_seconds: float = 1.0) -> Iterator[Transaction | Heartbeat]:
        failures = 0
        while not self._closed:
            try:
                self._reader = self._open(idle_seconds)
                for item in self._read(self._reader, idle_seconds):
                    failures = 0
                    yield item
            except (_ConnectionLost, pymysql.err.MySQLError, OSError) as exc:
                if self._closed:
                    return
                code = exc.args[0] if isinstance(exc, pymysql.err.MySQLError) else None
                reason = _error_text(exc)
                if code == _GONE:
                    raise PositionLost(
                        f"the {self._capture.where} cannot stream from position "
                        f"{self._position}: {reason}; start a new job"
                    ) from None
                what = f"the {self._capture.where} refused the binlog connection"
                if code in _REFUSED:
                    raise SourceRefused(f"{what}: {reason}") from None
                refused = refusal(exc, what, self._capture.project.source.password_env)
                if refused is not None:
                    raise refused from None
                if failures >= len(self.RECONNECT_DELAYS):
                    raise StreamError(
                        f"lost the binlog connection to {self._capture.address} "
                        f"({self._capture.where}) and could not reconnect after {failures} "
                        f"attempts: {reason}"
                    ) from None
                time.sleep(self.RECONNECT_DELAYS[failures])
                failures += 1
            finally:
                if self._reader is not None:
                    self._reader.close()
                    self._reader = None

    def _read(
        self, reader: BinLogStreamReader, idle_seconds: float
    ) -> Iterator[Transaction | Heartbeat]:
        changes = SpooledChanges()
        gtid: str | None = None  # of the event group being read (MariaDB)
        in_group = False  # inside BEGIN … COMMIT, or a GTID's non-standalone group
        last_yield = time.monotonic()
        # The server heartbeats every idle/4 when idle: yielding once 5/8 of idle_seconds have
        # passed keeps the gaps under idle_seconds whatever the timers' jitter.
        due = idle_seconds * 5 / 8
        while True:
            event = reader.fetchone()
            if event is None:  # a blocking dump only ends when the server ends it
                raise _ConnectionLost("the server ended the binlog stream")
            between = gtid is None and not in_group  # no event group half read
            ends_group = False
            if isinstance(event, RotateEvent):
                # Timestamp 0: the server announcing where it starts, not a new file.
                if event.timestamp and between and isinstance(self._position, FilePosition):
                    self._position = FilePosition(event.next_binlog, event.position)
                self._file, self._offset = event.next_binlog, event.position
            elif event.packet.log_pos:
                self._offset = event.packet.log_pos
            if isinstance(event, HeartbeatLogEvent):
                # Everything up to the server's position has arrived.
                if between and isinstance(self._position, FilePosition):
                    self._position = FilePosition(event.ident, self._offset)
            elif isinstance(event, MariadbGtidEvent):
                gtid, in_group = event.gtid, not event.flags & 1  # 1: standalone
                changes = SpooledChanges()
            elif isinstance(event, RowsEvent):
                for change in self._row_changes(event):
                    changes.append(change)
            elif isinstance(event, XidEvent | XAPrepareEvent):
                ends_group = True
            elif isinstance(event, QueryEvent):
                if _BEGIN_RE.match(event.query):
                    in_group, changes = True, SpooledChanges()
                elif _TXN_END_RE.match(event.query):
                    ends_group = True
                else:
                    truncate = self._check_statement(event)
                    if truncate is not None:
                        changes.append(truncate)
                    ends_group = not in_group  # a DDL statement is its own group
            if ends_group:
                if isinstance(self._position, FilePosition):
                    self._position = FilePosition(self._file or self._position.file, self._offset)
                elif gtid is not None:
                    self._position = self._position.after(gtid)
                self._last_commit = _utc(event.timestamp)
                gtid, in_group = None, False
                if changes:
                    self._capture._passed(
                        str(self._position), self._last_commit, self._file, self._offset
                    )
                    yield Transaction(str(self._position), self._last_commit, changes)
                    changes, last_yield = SpooledChanges(), time.monotonic()
            if gtid is None and not in_group and time.monotonic() - last_yield >= due:
                self._capture._passed(
                    str(self._position), self._last_commit, self._file, self._offset
                )
                yield Heartbeat(str(self._position), dt.datetime.now(dt.UTC))
                last_yield = time.monotonic()

    def _row_changes(self, event: RowsEvent) -> list[RowChange]:
        table = f"{event.schema}.{event.table}"
        convert = self._converters.get(table)
        if convert is None:  # only_schemas/only_tables filter by name alone
            return []
        types = self._types[table]
        logged = [c.name for c in event.columns]
        if logged != self._columns[table]:
            self._shape_changed(table, logged)
        if isinstance(event, UpdateRowsEvent):
            return [
                RowChange(
                    table,
                    "u",
                    _image(row["before_values"], row["before_none_sources"], convert, types),
                    _image(row["after_values"], row["after_none_sources"], convert, types),
                )
                for row in event.rows
            ]
        image = [_image(row["values"], row["none_sources"], convert, types) for row in event.rows]
        if isinstance(event, WriteRowsEvent):
            return [RowChange(table, "c", None, after) for after in image]
        return [RowChange(table, "d", before, None) for before in image]

    def _shape_changed(self, table: str, logged: list[str]) -> None:
        """Rows with other columns than the project's: new columns are left out (the images
        are read by name); a mapped column missing is asked of the catalog, and if the table
        lacks it now the stream stops here. A table that has it again logged these rows before
        it was added (a stream replayed past an ADD COLUMN after a mapping update), and
        recompute reads current rows."""
        if set(self._columns[table]) - set(logged):
            self._drift([table])
        self._columns[table] = logged

    def _check_statement(self, event: QueryEvent) -> TableTruncate | None:
        """TRUNCATE of mapped tables → their TableTruncate; other DDL on them is compared
        with the project: breaking drift stops the stream at the statement."""
        schema = event.schema.decode("utf-8", "replace") if event.schema else ""
        found = ddl_targets(event.query, schema)
        if found is None:
            return None
        verb, targets = found
        wanted = {t.casefold() for t in targets}
        hit = [
            tid
            for tid in self._converters
            if tid.casefold() in wanted or f"{tid.split('.', 1)[0]}.*".casefold() in wanted
        ]
        if not hit:
            return None
        if verb == "TRUNCATE":
            return TableTruncate(hit)
        if verb in ("DROP", "RENAME"):
            # A renamed table's old name is gone, whatever the catalog holds by now.
            self._drift([], [Drift(t, TABLE_GONE) for t in hit])
        self._drift(hit)
        return None
