"""Binlog CDC against the dev MariaDB: what the stream yields, resume, reconnect, purge, checks.

Each module run works in a fresh database. Stream reads end once a heartbeat reaches the
server's position taken after the test's writes (`capture.mark()`), so "nothing more arrived"
is checked without sleeping; every read gives up after WAIT seconds.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from types import SimpleNamespace

import pymysql
import pytest
from pymysql.cursors import DictCursor

from relmig.errors import PositionLost, SchemaChanged, SourceError
from relmig.project.initial import initial_collections
from relmig.project.model import CollectionRule, Project, SourceSettings
from relmig.schema.introspect import import_tables
from relmig.source.binlog import BinlogCapture, BinlogStream, GtidPosition
from relmig.source.capture import SourceLag, fix_script
from relmig.source.changes import Heartbeat, RowChange, TableTruncate, Transaction
from relmig.source.drift import Drift
from relmig.source.values import Unconvertible

pytestmark = [
    pytest.mark.services,
    # mysql-replication itself passes the deprecated 'db' to PyMySQL.
    pytest.mark.filterwarnings("ignore:'db' is deprecated:DeprecationWarning"),
    # SQLAlchemy does not know MariaDB's INET4/INET6 (the project still gets their names).
    pytest.mark.filterwarnings("ignore:Did not recognize type:sqlalchemy.exc.SAWarning"),
]

WAIT = 30  # seconds, for any one read of the stream
IDLE = 0.2  # heartbeat interval asked of the stream

TABLES = [
    "CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL, email VARCHAR(100))",
    """CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT NOT NULL,
        total DECIMAL(10, 2), placed DATETIME(6), status ENUM('new', 'paid'),
        FOREIGN KEY (customer_id) REFERENCES customers (id))""",
    # Column types whose binlog values could differ from what SELECT returns.
    """CREATE TABLE typed (id INT PRIMARY KEY, b BINARY(4), vb VARBINARY(8), c CHAR(5),
        vc VARCHAR(10), lat CHAR(3) CHARACTER SET latin1, bt BIT(10), b1 BIT(1),
        s SET('x', 'y', 'z'), e ENUM('p', 'q'), y YEAR, f FLOAT, d DOUBLE, u UUID,
        i6 INET6, i4 INET4, dec_ DECIMAL(10, 3), neg DECIMAL(6, 2), ts TIMESTAMP(3) NULL,
        dt DATETIME(6), da DATE, tm TIME, ub BIGINT UNSIGNED, sb BIGINT, t1 TINYINT(1),
        tx TEXT, bl BLOB)""",
    # Every type at the edges of its range, and the values the binlog trims (EDGE_ROWS).
    """CREATE TABLE edges (id INT PRIMARY KEY, u UUID, i6 INET6, i4 INET4, b BINARY(4),
        vb VARBINARY(4), c CHAR(4), vc VARCHAR(4), ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT,
        mi MEDIUMINT, mu MEDIUMINT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED, dm DECIMAL(65, 30),
        f FLOAT, d DOUBLE, da DATE, dtm DATETIME(6), ts TIMESTAMP(6) NULL, tm TIME(6), y YEAR,
        bt BIT(64), e ENUM('a', 'b'), s SET('a', 'b'), tx TINYTEXT, bl TINYBLOB)""",
    "CREATE TABLE scratch (id INT PRIMARY KEY)",
    "CREATE TABLE altered (id INT PRIMARY KEY)",  # the DDL test changes it
    "CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(50))",  # not mapped
    "CREATE TABLE nopk (v INT)",
]
MAPPED = ["customers", "orders", "typed", "edges", "scratch", "altered"]


@pytest.fixture(scope="module")
def db(mysql_params) -> Iterator[SimpleNamespace]:
    """A fresh database, an autocommit connection to it, and its source settings."""
    name = f"relmig_t_binlog_{uuid.uuid4().hex[:8]}"
    admin = pymysql.connect(**{**mysql_params, "database": None}, autocommit=True)
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
        cur.execute(f"USE {name}")
        for ddl in TABLES:
            cur.execute(ddl)
    settings = SourceSettings(
        dialect="mysql",
        host=mysql_params["host"],
        port=mysql_params["port"],
        database=name,
        user=mysql_params["user"],
        schemas=[name],
    )
    try:
        yield SimpleNamespace(
            name=name, conn=admin, settings=settings, password=mysql_params["password"]
        )
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()


def sql(db: SimpleNamespace, *statements: str) -> None:
    with db.conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)


@pytest.fixture(scope="module")
def project(db) -> Project:
    tables = import_tables(db.settings, db.password, only=[f"{db.name}.{t}" for t in MAPPED])
    return Project(
        name="t",
        source=db.settings,
        tables=tables,
        collections=initial_collections(tables, "one-to-one"),
    )


@pytest.fixture
def make_capture(db, project) -> Iterator[Callable[..., BinlogCapture]]:
    made: list[BinlogCapture] = []

    def make(
        user: str | None = None, password: str | None = None, port: int | None = None
    ) -> BinlogCapture:
        source = db.settings.model_copy(
            update={"user": user or db.settings.user, "port": port or db.settings.port}
        )
        capture = BinlogCapture(
            project.model_copy(update={"source": source}),
            f"test-{uuid.uuid4().hex[:8]}",
            password or db.password,
        )
        made.append(capture)
        return capture

    yield make
    for capture in made:
        capture.cleanup()


@pytest.fixture
def capture(make_capture) -> BinlogCapture:
    return make_capture()


@contextlib.contextmanager
def opened(capture: BinlogCapture, position: str) -> Iterator[BinlogStream]:
    stream = capture.stream(position)
    try:
        yield stream
    finally:
        stream.close()


def read(
    stream: BinlogStream,
    until: Callable[[list[Transaction], Heartbeat | None], bool],
) -> list[Transaction]:
    """Transactions from a fresh `events()` until `until(transactions, last heartbeat)`."""
    txns: list[Transaction] = []
    deadline = time.monotonic() + WAIT
    with contextlib.closing(stream.events(IDLE)) as events:
        for event in events:
            beat = event if isinstance(event, Heartbeat) else None
            if isinstance(event, Transaction):
                txns.append(event)
            if until(txns, beat):
                return txns
            assert time.monotonic() < deadline, f"no end after {WAIT}s; read {txns}"
    raise AssertionError("the event stream ended")


def read_to(capture: BinlogCapture, stream: BinlogStream, mark: str) -> list[Transaction]:
    """Everything up to the server position `mark`, and nothing after it."""
    return read(stream, lambda _, beat: beat is not None and capture.reached(beat.position, mark))


def seq(position: str) -> int:
    gtid = GtidPosition.parse(position.removeprefix("gtid:"))
    return sum(n for _, _, n in gtid.domains)


@pytest.fixture
def account(db) -> Iterator[str]:
    """A new MariaDB account with no privileges, 'name'@'127.0.0.1' (password pw)."""
    name = f"relmig_t_{uuid.uuid4().hex[:8]}"
    sql(db, f"CREATE USER '{name}'@'127.0.0.1' IDENTIFIED BY 'pw'")
    yield name
    sql(db, f"DROP USER IF EXISTS '{name}'@'127.0.0.1'")


@pytest.fixture
def root(services_dir) -> Iterator[pymysql.connections.Connection]:
    """MariaDB's root over its socket: the dev account has no GRANT OPTION."""
    try:
        conn = pymysql.connect(
            unix_socket=str(services_dir / "run" / "mariadb.sock"), user="root", autocommit=True
        )
    except pymysql.MySQLError as exc:
        pytest.skip(f"needs root over the MariaDB socket: {exc}")
    yield conn
    conn.close()


class Proxy:
    """A TCP forwarder to the server: its connections are easy to find on the server (by
    client port), and the test can cut them all, as a network failure would."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.upstream_ports: set[int] = set()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.upstream_ports.add(upstream.getsockname()[1])
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)

    def cut(self) -> None:
        for sock in [self.listener, *self.sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


# --- the stream -------------------------------------------------------------------------------


def test_committed_transactions_of_mapped_tables_in_order(db, capture):
    t = db.name
    start = capture.start()
    assert start.startswith("gtid:")
    sql(
        db,
        "INSERT INTO customers VALUES (1, 'Ann', 'a@x'), (2, 'Bob', NULL)",
        "BEGIN",
        "INSERT INTO orders VALUES (10, 1, 9.99, '2024-02-29 12:34:56.123456', 'new')",
        "UPDATE customers SET email = 'b@x' WHERE id = 2",
        "INSERT INTO audit (note) VALUES ('inside a mapped transaction')",
        "COMMIT",
        "INSERT INTO audit (note) VALUES ('alone')",
        "UPDATE customers SET id = 3 WHERE id = 2",
        "DELETE FROM orders WHERE id = 10",
        "TRUNCATE orders",
        "XA START 'x'",
        "INSERT INTO customers VALUES (5, 'Xa', NULL)",
        "XA END 'x'",
        "XA PREPARE 'x'",
        "XA COMMIT 'x'",
    )
    mark = capture.mark()
    with opened(capture, start) as stream:
        txns = read_to(capture, stream, mark)

    ann = {"id": 1, "name": "Ann", "email": "a@x"}
    bob = {"id": 2, "name": "Bob", "email": None}
    order = {
        "id": 10,
        "customer_id": 1,
        "total": Decimal("9.99"),
        "placed": dt.datetime(2024, 2, 29, 12, 34, 56, 123456),
        "status": "new",
    }
    assert [list(txn.changes) for txn in txns] == [
        [
            RowChange(f"{t}.customers", "c", None, ann),
            RowChange(f"{t}.customers", "c", None, bob),
        ],
        [
            RowChange(f"{t}.orders", "c", None, order),
            RowChange(f"{t}.customers", "u", bob, {**bob, "email": "b@x"}),
        ],
        [
            RowChange(
                f"{t}.customers", "u", {**bob, "email": "b@x"}, {**bob, "id": 3, "email": "b@x"}
            )
        ],
        [RowChange(f"{t}.orders", "d", order, None)],
        [TableTruncate([f"{t}.orders"])],
        [RowChange(f"{t}.customers", "c", None, {"id": 5, "name": "Xa", "email": None})],
    ]
    positions = [seq(txn.position) for txn in txns]
    assert positions == sorted(set(positions)) and positions[0] > seq(start)
    for txn in txns:
        assert txn.commit_time.tzinfo is not None
        assert capture.reached(txn.position, start) and not capture.reached(start, txn.position)


def test_heartbeats_move_past_unmapped_transactions(db, capture):
    start = capture.start()
    sql(db, *["INSERT INTO audit (note) VALUES ('unmapped')"] * 3, "ALTER TABLE audit ADD x INT")
    mark = capture.mark()
    beats: list[Heartbeat] = []

    def until(_: list[Transaction], beat: Heartbeat | None) -> bool:
        if beat is not None:
            beats.append(beat)
        return beat is not None and capture.reached(beat.position, mark)

    with opened(capture, start) as stream:
        assert read(stream, until) == []
    assert seq(beats[-1].position) >= seq(start) + 4
    assert all(b.at.tzinfo is not None for b in beats)
    assert capture.position_problem(beats[-1].position) is None


def test_resuming_from_a_saved_position_replays_exactly_the_later_transactions(db, capture):
    start = capture.start()
    for i in range(3):
        sql(db, f"INSERT INTO customers VALUES ({100 + i}, 'c{i}', NULL)")
    mark = capture.mark()
    with opened(capture, start) as stream:
        first = read_to(capture, stream, mark)
    assert [next(iter(txn.changes)).after["id"] for txn in first] == [100, 101, 102]

    with opened(capture, first[0].position) as stream:
        again = read_to(capture, stream, mark)
        stream.confirm(again[-1].position)
        assert stream.confirmed == again[-1].position
    assert again == first[1:]
    with opened(capture, first[-1].position) as stream:
        assert read_to(capture, stream, mark) == []


def test_file_positions_resume_and_follow_a_new_binlog(db, capture):
    status = db.conn.cursor()
    status.execute("SHOW MASTER STATUS")
    file, offset = status.fetchone()[:2]
    start = f"file:{file}:{offset}"
    sql(db, "INSERT INTO scratch VALUES (1)", "INSERT INTO scratch VALUES (2)")
    with opened(capture, start) as stream:
        txns = read(stream, lambda txns, _: len(txns) == 2)
        assert [next(iter(txn.changes)).after for txn in txns] == [{"id": 1}, {"id": 2}]
        assert all(txn.position.startswith(f"file:{file}:") for txn in txns)
        sql(db, "FLUSH BINARY LOGS")
        status.execute("SHOW MASTER STATUS")
        new_file = status.fetchone()[0]
        read(stream, lambda _, beat: beat is not None and f":{new_file}:" in beat.position)
    with opened(capture, txns[0].position) as stream:
        assert read(stream, lambda txns, _: len(txns) == 1) == txns[1:]


def test_binlog_values_equal_what_select_returns(db, capture):
    start = capture.start()
    columns = (
        "id, b, vb, c, vc, lat, bt, b1, s, e, y, f, d, u, i6, i4, dec_, neg, ts, dt, da, tm, "
        "ub, sb, t1, tx, bl"
    )
    sql(
        db,
        f"""INSERT INTO typed ({columns}) VALUES
        (1, 'ab', 'cd\\0', 'ef  ', 'gh ', 'é', b'1010000011', b'1', 'z,x', 'q', 2024, 1.1,
         3.14159265358979, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '::ffff:1.2.3.4',
         '10.0.0.1', 12.5, -0.5, '2024-02-29 12:34:56.789', '2024-01-02 03:04:05.000006',
         '2024-02-29', '-12:34:56', 18446744073709551615, -9223372036854775808, 1, 'héllo',
         x'00ff'),
        (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '', NULL, 0, 3.1415927, NULL,
         '6ccd780c-baba-1026-9564-5b8c656024db', '::1.2.3.4', NULL, NULL, NULL, NULL, NULL,
         NULL, NULL, NULL, NULL, NULL, NULL, NULL)""",
    )
    selected = DictCursor(db.conn)
    selected.execute("SET time_zone = '+00:00'")  # as the snapshot reader's session

    def rows() -> dict[int, dict]:
        selected.execute(f"SELECT {columns} FROM typed ORDER BY id")
        return {row["id"]: row for row in selected.fetchall()}

    inserted = rows()
    sql(db, "UPDATE typed SET id = 3, b = 'x', bt = b'1', s = 'y' WHERE id = 2")
    updated = rows()
    sql(db, "DELETE FROM typed WHERE id = 1")
    mark = capture.mark()
    with opened(capture, start) as stream:
        insert, update, delete = read_to(capture, stream, mark)

    assert [c.after for c in insert.changes] == [inserted[1], inserted[2]]
    (change,) = list(update.changes)
    assert (change.before, change.after) == (inserted[2], updated[3])
    assert list(delete.changes) == [RowChange(f"{db.name}.typed", "d", inserted[1], None)]


EDGE_COLUMNS = (
    "id, u, i6, i4, b, vb, c, vc, ti, tu, si, mi, mu, bi, bu, dm, f, d, da, dtm, ts, tm, y, bt, "
    "e, s, tx, bl"
)
MAX_DECIMAL = "9" * 35 + "." + "9" * 30
EDGE_ROWS = [
    # the lowest value of each type (zero bytes, empty strings, the first date)
    f"""(1, '00000000-0000-0000-0000-000000000000', '::', '0.0.0.0', x'00000000', x'0000', '',
    ' ', -128, 0, -32768, -8388608, 0, -9223372036854775808, 0, -{MAX_DECIMAL}, -3.40282e38,
    -1.7976931348623157e308, '1000-01-01', '1000-01-01 00:00:00', '1970-01-01 00:00:01',
    '-838:59:59', 1901, b'0', 'a', '', '', '')""",
    # the highest
    f"""(2, 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    '255.255.255.255', x'ffffffff', x'ffff', 'abcd', 'abcd', 127, 255, 32767, 8388607, 16777215,
    9223372036854775807, 18446744073709551615, {MAX_DECIMAL}, 3.40282e38,
    1.7976931348623157e308, '9999-12-31', '9999-12-31 23:59:59.999999',
    '2038-01-19 03:14:07.999999', '838:59:59', 2155, x'ffffffffffffffff', 'b', 'a,b',
    REPEAT('x', 255), REPEAT(x'ff', 255))""",
    # trailing zero bytes and spaces, zero dates, YEAR 0000 and the invalid ENUM ''
    """(3, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380000', '2001:db8::', '10.0.0.0', x'61000000',
    x'6100', 'ab  ', 'ab  ', 0, 0, 0, 0, 0, 0, 0, 0, 0, -0.0, '0000-00-00',
    '0000-00-00 00:00:00', '0000-00-00 00:00:00', '00:00:00', 0, b'1', '', 'b', 'ab ', x'6100')""",
    # an IPv4-mapped address, a UUID ending in one zero byte, fractions at their smallest
    """(4, '6ccd780c-baba-1026-9564-5b8c65602400', '::ffff:10.0.0.0', '1.0.0.0', x'00000001',
    x'00', 'a', 'a', -1, 1, -1, -1, 1, -1, 1, 0.000000000000000000000000000001, 1.17549e-38,
    2.2250738585072014e-308, '2024-02-29', '2024-02-29 00:00:00.000001',
    '2024-02-29 00:00:00.000001', '-00:00:00.000001', 2000, x'8000000000000000', 'a', 'a',
    ' ', x'00')""",
    "(5" + ", NULL" * 27 + ")",
]


class _LostDate:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unconvertible) and "binlog does not carry" in other.reason


LOST_DATE = _LostDate()


def test_every_type_at_its_edges_equals_what_select_returns(db, capture):
    """Each edge value through every kind of change (insert, update, key change, delete): the
    binlog's images equal what the snapshot reads with SELECT, trimmed values padded back."""
    start = capture.start()
    writer = pymysql.connect(
        host=db.settings.host,
        port=db.settings.port,
        user=db.settings.user,
        password=db.password,
        database=db.name,
        autocommit=True,
    )
    selected = DictCursor(db.conn)
    selected.execute("SET time_zone = '+00:00'")  # as the snapshot reader's session

    def rows() -> list[dict]:
        selected.execute(f"SELECT {EDGE_COLUMNS} FROM edges ORDER BY id")
        return list(selected.fetchall())

    with writer.cursor() as cur:
        cur.execute("SET time_zone = '+00:00', sql_mode = ''")  # zero dates, ENUM ''
        cur.execute(f"INSERT INTO edges ({EDGE_COLUMNS}) VALUES {', '.join(EDGE_ROWS)}")
        inserted = rows()
        cur.execute("UPDATE edges SET vc = CONCAT('z', id)")
        updated = rows()
        cur.execute("UPDATE edges SET id = id + 100")
        rekeyed = rows()
        cur.execute("DELETE FROM edges")
    writer.close()
    mark = capture.mark()
    with opened(capture, start) as stream:
        txns = read_to(capture, stream, mark)

    assert len(inserted) == len(EDGE_ROWS) and inserted[2]["u"].endswith("0000")
    changes = [list(t.changes) for t in txns]
    # Zero dates are the one thing the binlog does not carry (the library reads them as None):
    # they are marked, so a key or link holding one becomes an issue, never a wrong route.
    for image in (*inserted[2:3], *updated[2:3], *rekeyed[2:3]):
        for column in ("da", "dtm"):
            assert image[column].startswith("0000-00-00")
            image[column] = LOST_DATE
    assert [c.after for c in changes[0]] == inserted
    assert [(c.before, c.after) for c in changes[1]] == list(zip(inserted, updated, strict=True))
    assert [(c.before, c.after) for c in changes[2]] == list(zip(updated, rekeyed, strict=True))
    assert [c.before for c in changes[3]] == rekeyed


def test_a_killed_binlog_connection_resumes_without_loss_or_repeats(db, make_capture):
    proxy = Proxy(db.settings.host, db.settings.port)  # to tell our binlog dump from others
    capture = make_capture(port=proxy.port)
    start = capture.start()
    sql(db, "INSERT INTO scratch VALUES (10)")
    with opened(capture, start) as stream:
        (first,) = read(stream, lambda txns, _: len(txns) == 1)
        with db.conn.cursor() as cur:
            cur.execute(
                "SELECT id, host FROM information_schema.processlist WHERE command = 'Binlog Dump'"
            )
            ours = [
                thread
                for thread, host in cur.fetchall()
                if int(host.rsplit(":", 1)[1]) in proxy.upstream_ports
            ]
            assert len(ours) == 1, "the stream's binlog dump thread is not running"
            cur.execute(f"KILL {ours[0]}")
        sql(db, "INSERT INTO scratch VALUES (11)", "INSERT INTO scratch VALUES (12)")
        mark = capture.mark()
        later = read_to(capture, stream, mark)
    proxy.cut()
    assert next(iter(first.changes)).after == {"id": 10}
    assert [next(iter(txn.changes)).after for txn in later] == [{"id": 11}, {"id": 12}]


def test_an_unreachable_server_fails_the_stream_after_a_few_attempts(db, make_capture, monkeypatch):
    monkeypatch.setattr(BinlogStream, "RECONNECT_DELAYS", (0.1, 0.2))
    proxy = Proxy(db.settings.host, db.settings.port)
    capture = make_capture(port=proxy.port)
    start = capture.start()
    sql(db, "INSERT INTO scratch VALUES (20)")
    with opened(capture, start) as stream:
        read(stream, lambda txns, _: len(txns) == 1)
        proxy.cut()
        with pytest.raises(SourceError, match=rf"127\.0\.0\.1:{proxy.port}.*after 2 attempts"):
            read(stream, lambda *_: False)


def test_ddl_on_a_mapped_table_is_drift(db, capture):
    """A new column is reported and read past (row images by name); a mapped column renamed
    stops the stream at the statement, with the drift."""
    start = capture.start()
    sql(
        db,
        "ALTER TABLE audit ADD y INT",
        "ALTER TABLE altered ADD COLUMN note TEXT",
        "INSERT INTO altered VALUES (1, 'x')",
    )
    reported: list[Drift] = []
    try:
        with contextlib.closing(capture.stream(start, reported.extend)) as stream:
            [txn] = read(stream, lambda txns, _: len(txns) == 1)
        assert [c.after["id"] for c in txn.changes] == [1]
        # Seen in the catalog as the stream opens, and again at the statement.
        assert {(d.table, d.kind, d.column) for d in reported} == {
            (f"{db.name}.altered", "new column", "note")
        }

        # Renamed after the stream opened: the statement stops it (before, the catalog would).
        with opened(capture, capture.start()) as stream, pytest.raises(SchemaChanged) as stopped:
            sql(
                db, "ALTER TABLE altered CHANGE id ident INT", "INSERT INTO altered VALUES (2, 'y')"
            )
            read(stream, lambda *_: False)
        assert [(d.kind, d.column) for d in stopped.value.drifts if d.breaking] == [
            ("column gone", "id")
        ]
        assert f"{db.name}.altered.id, a column of the mapping" in str(stopped.value)
    finally:  # the other tests stream this table
        sql(db, "DELETE FROM altered", "ALTER TABLE altered CHANGE ident id INT, DROP note")


# --- positions --------------------------------------------------------------------------------


def test_lag_is_known_behind_and_zero_when_caught_up(db, capture):
    start = capture.start()
    sql(db, "INSERT INTO scratch VALUES (30)", "INSERT INTO scratch VALUES (31)")
    mark = capture.mark()
    with opened(capture, start) as stream:
        first, _ = read_to(capture, stream, mark)
    behind = capture.lag(first.position)
    assert behind.seconds is not None and behind.seconds >= 0
    assert behind.bytes is not None and behind.bytes > 0
    far_ahead = str(GtidPosition.parse(mark.removeprefix("gtid:")).after("0-1-999999999999"))
    assert capture.lag(far_ahead) == SourceLag(0.0, 0)


@pytest.mark.alone(why="purges the binlogs that every other MariaDB job reads")
def test_purged_binlogs_make_positions_unusable(db, capture):
    start = capture.start()
    status = db.conn.cursor()
    status.execute("SHOW MASTER STATUS")
    file, offset = status.fetchone()[:2]
    sql(db, "INSERT INTO scratch VALUES (40)")
    for _ in range(3):
        sql(db, "FLUSH BINARY LOGS")
    status.execute("SHOW MASTER STATUS")
    newest = status.fetchone()[0]
    # The server keeps a binlog that a reader is on, such as a closed stream's dump thread
    # that has not noticed yet.
    deadline = time.monotonic() + WAIT
    while True:
        sql(db, f"PURGE BINARY LOGS TO '{newest}'")
        status.execute("SHOW BINARY LOGS")
        if file not in [row[0] for row in status.fetchall()]:
            break
        if time.monotonic() > deadline:
            pytest.skip(f"another binlog reader stays on {file}, so it cannot be purged")
        time.sleep(0.2)

    for position in (start, f"file:{file}:{offset}"):
        problem = capture.position_problem(position)
        assert problem is not None
        assert f"the binlog holding position {position} was purged" in problem
        assert f"oldest binlog is {newest}" in problem and "start a new job" in problem
        with pytest.raises(PositionLost, match="purged"):
            capture.stream(position)
    assert capture.position_problem(capture.start()) is None
    assert "malformed" in (capture.position_problem("0-1-2") or "")


# --- prerequisites ----------------------------------------------------------------------------


def test_check_passes_on_the_dev_server(capture):
    assert capture.check() == []


def test_check_finds_missing_grants_and_keys(db, project, make_capture, account):
    missing = make_capture(user=account, password="pw").check()
    who = f"'{account}'@'127.0.0.1'"
    # Least privilege: nothing beyond reading the binlog and the mapped tables (no RELOAD).
    assert {p.name: p.fix for p in missing} == {
        "REPLICATION SLAVE privilege": f"GRANT REPLICATION SLAVE ON *.* TO {who};",
        "BINLOG MONITOR privilege": f"GRANT BINLOG MONITOR ON *.* TO {who};",
        f"SELECT privilege on {db.name}": f"GRANT SELECT ON `{db.name}`.* TO {who};",
    }
    script = fix_script(missing)
    assert f"GRANT REPLICATION SLAVE ON *.* TO {who};" in script
    assert f"GRANT SELECT ON `{db.name}`.* TO {who};" in script

    nopk = import_tables(db.settings, db.password, only=[f"{db.name}.nopk"])
    unkeyed = project.model_copy(
        update={
            "tables": [*project.tables, *nopk],
            "collections": [
                *project.collections,
                CollectionRule(name="nopk", table=f"{db.name}.nopk"),
            ],
        }
    )
    capture = BinlogCapture(unkeyed, "test-nopk", db.password)
    try:
        (problem,) = capture.check()
    finally:
        capture.cleanup()
    assert problem.name == f"primary key of {db.name}.nopk" and problem.fix is None


def test_the_fix_script_makes_check_pass(make_capture, account, root):
    capture = make_capture(user=account, password="pw")
    missing = capture.check()
    assert missing
    with root.cursor() as cur:
        for p in missing:
            cur.execute(p.fix)
    assert capture.check() == []


def test_bad_credentials_and_unreachable_servers_are_clear_errors(db, make_capture):
    where = f"mysql source relmig@127.0.0.1:{db.settings.port}/{db.name}"
    with pytest.raises(SourceError, match=re.escape(f"cannot connect to the {where}")) as failure:
        make_capture(password="wrong").check()
    assert "Access denied" in str(failure.value)
    assert failure.value.__cause__ is None and failure.value.__suppress_context__
    with pytest.raises(
        SourceError, match=r"cannot connect to the mysql source relmig@127\.0\.0\.1:1/"
    ):
        make_capture(port=1).start()


def test_cleanup_is_safe_to_repeat(capture):
    capture.start()
    capture.cleanup()
    capture.cleanup()
    assert capture.position_problem(capture.start()) is None
