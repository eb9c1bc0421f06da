"""PostgreSQL change capture: a publication and a pgoutput slot per job, read with psycopg2.

psycopg 3 has no replication protocol, so the stream uses psycopg2's
LogicalReplicationConnection while every query (catalog checks, row loading context,
heartbeats) uses psycopg 3 (DESIGN-NOTES §4).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import select
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg2
from psycopg2.extras import LogicalReplicationConnection

from relmig.errors import PositionLost, SourceError, StreamError
from relmig.project.model import Project, Table
from relmig.route.images import before_image_columns
from relmig.source import pgoutput as pg
from relmig.source.capture import (
    Backlog,
    ChangeCapture,
    Prerequisite,
    SourceLag,
    mapped_tables,
)
from relmig.source.changes import (
    ChangeStream,
    Heartbeat,
    RowChange,
    TableTruncate,
    Transaction,
)
from relmig.source.drift import DriftSink, act_on, current_drift
from relmig.source.pg_partitions import PartitionWatch
from relmig.source.postgres import CONNECT_SETTINGS, PostgresSource
from relmig.source.refusals import refusal
from relmig.source.spool import SpooledChanges
from relmig.source.tls import libpq_settings
from relmig.timeouts import STREAM_TIMEOUT, deadline, stream_timeout

HEARTBEAT_PREFIX = "relmig.heartbeat"


def lsn_to_str(lsn: int) -> str:
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def str_to_lsn(text: str) -> int:
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def slot_name(job_id: str) -> str:
    """Slot and publication share the job's name, so a leftover one is easy to trace."""
    return "relmig_" + re.sub(r"[^a-z0-9_]", "_", job_id.lower())


class PostgresCapture(ChangeCapture):
    heartbeat_seconds = 10.0  # idle time before a heartbeat message moves the slot on

    def __init__(self, project: Project, job_id: str, password: str | None = None) -> None:
        super().__init__(project, job_id, password)
        self.source = PostgresSource(project.source, password, writable=True)
        self.name = slot_name(job_id)
        # The DBA's publication when the project names one; else the job's own, by the slot's
        # name, which relmig creates and drops (and which needs the tables' ownership).
        self.publication = project.source.publication or self.name
        self.own_publication = project.source.publication is None
        self.tables = [t.id for t in mapped_tables(project)]

    # --- prerequisites ------------------------------------------------------------------------

    def check(self) -> list[Prerequisite]:
        s = self.source
        missing: list[Prerequisite] = []
        settings = dict(
            s.fetch(
                "SELECT name, setting FROM pg_settings WHERE name IN "
                "('wal_level', 'max_replication_slots', 'max_wal_senders')"
            )
        )
        if settings.get("wal_level") != "logical":
            missing.append(
                Prerequisite(
                    "wal_level",
                    f"wal_level is {settings.get('wal_level')!r}, CDC needs 'logical'",
                    "ALTER SYSTEM SET wal_level = 'logical';",
                    "takes effect after a server restart",
                )
            )
        for name in ("max_replication_slots", "max_wal_senders"):
            if int(settings.get(name, 0)) < 1:
                missing.append(
                    Prerequisite(
                        name,
                        f"{name} is {settings.get(name)}, CDC needs at least one free",
                        f"ALTER SYSTEM SET {name} = 10;",
                        "takes effect after a server restart",
                    )
                )
        user = s.settings.user
        (can_replicate,) = s.fetch(
            "SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user"
        )[0]
        if not can_replicate:
            missing.append(
                Prerequisite(
                    "REPLICATION role attribute",
                    f"role {user} cannot open a replication connection",
                    f"ALTER ROLE {s.quote(user)} WITH REPLICATION;",
                )
            )
        needs_full = before_image_columns(self.project)
        not_owned: list[str] = []
        for table_id in self.tables:
            table = self.project.table(table_id)
            rows = s.fetch(
                "SELECT c.relreplident, pg_has_role(c.relowner, 'USAGE'), "
                "has_table_privilege(c.oid, 'SELECT'), c.relpersistence = 'u', "
                "EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary), "
                "(SELECT ic.relname FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
                "WHERE i.indrelid = c.oid AND i.indisreplident) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relname = %s",
                (table.schema_, table.name),
            )
            qualified = s.qualified(table)
            if not rows:
                missing.append(Prerequisite(f"table {table_id}", "does not exist", None))
                continue
            identity, owner, can_select, unlogged, has_pk, identity_index = rows[0]
            if (
                table.key_index
                and not table.partitioned
                and not (identity == "f" or identity_index == table.key_index)
            ):
                missing.append(
                    Prerequisite(
                        f"replica identity of {table_id}",
                        f"the table has no primary key: its key is the unique index "
                        f"{table.key_index}, which must be its replica identity (published, "
                        "its UPDATEs and DELETEs would fail, or carry no key)",
                        f"ALTER TABLE {qualified} REPLICA IDENTITY USING INDEX "
                        f"{s.quote(table.key_index)};",
                    )
                )
            elif table.primary_key and not has_pk and identity == "d" and not table.partitioned:
                missing.append(
                    Prerequisite(
                        f"replica identity of {table_id}",
                        "the table has no primary key and REPLICA IDENTITY DEFAULT: published, "
                        "its UPDATEs and DELETEs would fail at the source",
                        f"ALTER TABLE {qualified} REPLICA IDENTITY FULL;",
                    )
                )
            if unlogged:
                missing.append(
                    Prerequisite(
                        f"logging of {table_id}",
                        "the table is UNLOGGED: its changes never reach the WAL, so no "
                        "replication stream carries them (a snapshot job can still copy it)",
                        f"ALTER TABLE {qualified} SET LOGGED;",
                        "rewrites the table and logs it from then on",
                    )
                )
            if table.partitioned:
                missing += self._partition_identities(table)
            if not table.primary_key and identity != "f":
                missing.append(
                    Prerequisite(
                        f"primary key of {table_id}",
                        "the table has no primary key, so its rows cannot be addressed",
                        f"ALTER TABLE {qualified} ADD PRIMARY KEY (...);",
                    )
                )
            if identity == "n" or (table_id in needs_full and identity != "f"):
                why = (
                    "updates and deletes would fail at the source"
                    if identity == "n"
                    else "an embedded table needs its whole old row to find the documents "
                    f"that held it (columns {', '.join(needs_full[table_id])})"
                )
                missing.append(
                    Prerequisite(
                        f"replica identity of {table_id}",
                        f"REPLICA IDENTITY is {_IDENTITY[identity]}: {why}",
                        f"ALTER TABLE {qualified} REPLICA IDENTITY FULL;",
                    )
                )
            if not owner:
                not_owned.append(table_id)
            if not can_select:
                missing.append(
                    Prerequisite(
                        f"SELECT on {table_id}",
                        f"role {user} cannot read the table",
                        f"GRANT SELECT ON {qualified} TO {s.quote(user)};",
                        snapshot=True,
                    )
                )
        if self.own_publication:
            (can_create,) = s.fetch("SELECT has_database_privilege(current_database(), 'CREATE')")[
                0
            ]
            if not_owned or not can_create:
                missing.append(self._publication_by_the_dba(not_owned, can_create))
        else:
            missing += self._publication_problems()
        return missing

    def _published(self, table_ids: list[str]) -> str:
        """The tables as a publication lists them: ONLY each plain table (its INHERITS children
        are not the table's rows, and publishing them could fail their UPDATEs for want of a
        replica identity), a partitioned table whole (its partitions are its rows)."""
        tables = [self.project.table(t) for t in table_ids]
        return ", ".join(
            self.source.qualified(t) if t.partitioned else f"ONLY {self.source.qualified(t)}"
            for t in tables
        )

    def _publication_options(self) -> str:
        """A partition's changes published as its table's (PostgreSQL 13 and later)."""
        partitioned = any(self.project.table(t).partitioned for t in self.tables)
        return " WITH (publish_via_partition_root = true)" if partitioned else ""

    def _publication_by_the_dba(self, not_owned: list[str], can_create: bool) -> Prerequisite:
        """Only a table's owner may publish it, and a publication needs CREATE on the database:
        the DBA creates it, and the project names it. relmig never asks for ownership."""
        s = self.source
        why = (
            f"role {s.settings.user} does not own {', '.join(not_owned)}"
            if not_owned
            else f"role {s.settings.user} lacks CREATE on database {s.settings.database}"
        )
        return Prerequisite(
            "publication",
            f"{why}, so it cannot create a publication",
            f"CREATE PUBLICATION relmig FOR TABLE {self._published(self.tables)}"
            f"{self._publication_options()};",
            "run it as the tables' owner, then set publication: relmig under source: in the "
            "project; relmig then uses that publication and creates none",
        )

    def _partition_identities(self, table: Table) -> list[Prerequisite]:
        """Every partition of a published table is published: one without a replica identity
        would make the application's UPDATEs and DELETEs on it fail."""
        s = self.source
        rows = s.fetch(
            "SELECT t.relid::regclass::text, c.relreplident, EXISTS (SELECT 1 FROM pg_index i "
            "WHERE i.indrelid = c.oid AND i.indisprimary) FROM pg_partition_tree(%s::regclass) t "
            "JOIN pg_class c ON c.oid = t.relid WHERE t.isleaf",
            (s.qualified(table),),
        )
        return [
            Prerequisite(
                f"replica identity of partition {name}",
                f"partition {name} of {table.id} has no primary key and REPLICA IDENTITY "
                f"{_IDENTITY[identity]}: published, its UPDATEs and DELETEs would fail",
                f"ALTER TABLE {name} REPLICA IDENTITY FULL;",
            )
            for name, identity, keyed in rows
            if identity == "n" or (identity == "d" and not keyed)
        ]

    def _publication_problems(self) -> list[Prerequisite]:
        """The DBA's publication exists, publishes every change, and covers the mapped tables."""
        s = self.source
        name = s.quote(self.publication)
        rows = s.fetch(
            "SELECT pubinsert AND pubupdate AND pubdelete AND pubtruncate, puballtables, "
            "pubviaroot FROM pg_publication WHERE pubname = %s",
            (self.publication,),
        )
        if not rows:
            return [
                Prerequisite(
                    f"publication {self.publication}",
                    "the publication the project names does not exist",
                    f"CREATE PUBLICATION {name} FOR TABLE {self._published(self.tables)}"
                    f"{self._publication_options()};",
                    "run it as the tables' owner",
                )
            ]
        every_change, all_tables, via_root = rows[0]
        missing = []
        if self._publication_options() and not via_root:
            missing.append(
                Prerequisite(
                    f"publication {self.publication}",
                    "a mapped table is partitioned, and the publication sends its partitions' "
                    "changes under the partitions' names",
                    f"ALTER PUBLICATION {name} SET (publish_via_partition_root = true);",
                )
            )
        if not every_change:
            missing.append(
                Prerequisite(
                    f"publication {self.publication}",
                    "the publication does not publish every insert, update, delete and truncate",
                    f"ALTER PUBLICATION {name} SET (publish = 'insert, update, delete, truncate');",
                )
            )
        if not all_tables:
            covered = {
                f"{schema}.{table}"
                for schema, table in s.fetch(
                    "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = %s",
                    (self.publication,),
                )
            }
            absent = [t for t in self.tables if t not in covered]
            if absent:
                missing.append(
                    Prerequisite(
                        f"publication {self.publication}",
                        f"the publication does not cover {', '.join(absent)}",
                        f"ALTER PUBLICATION {name} ADD TABLE {self._published(absent)};",
                        "run it as the tables' owner",
                    )
                )
        return missing

    # --- slot and publication -----------------------------------------------------------------

    def start(self) -> str:
        s = self.source
        exists = s.fetch("SELECT 1 FROM pg_publication WHERE pubname = %s", (self.publication,))
        if not exists and not self.own_publication:
            raise SourceError(
                f"the publication {self.publication} the project names does not exist on the "
                f"{s.where}; `relmig check` prints the statement that creates it"
            )
        if not exists:
            published = self._published(self.tables)
            s.execute(
                f"CREATE PUBLICATION {s.quote(self.name)} FOR TABLE {published}"
                f"{self._publication_options()}"
            )
        row = s.fetch(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s",
            (self.name,),
        )
        if row:
            return str(row[0][0])
        (lsn,) = s.fetch(
            "SELECT lsn::text FROM pg_create_logical_replication_slot(%s, 'pgoutput')",
            (self.name,),
        )[0]
        return str(lsn)

    def cover(self) -> None:
        """relmig's own publication lists exactly the mapped tables (the DBA's is checked by
        `check`). SET TABLE keeps the publication's options and its slot's position."""
        if not self.own_publication:
            return
        s = self.source
        name = s.quote(self.name)
        s.execute(f"ALTER PUBLICATION {name} SET TABLE {self._published(self.tables)}")
        if self._publication_options():
            s.execute(f"ALTER PUBLICATION {name} SET (publish_via_partition_root = true)")

    def close(self) -> None:
        self.source.close()

    def cleanup(self) -> None:
        """Drop the slot and the publication.

        A walsender outlives the stream that closed it by a moment, and an active slot cannot
        be dropped: wait for it to let go, and end it if it does not (it is this job's own).
        """
        s = self.source
        deadline = time.monotonic() + SLOT_RELEASE_SECONDS
        terminated = False
        while True:
            rows = s.fetch(
                "SELECT active, active_pid FROM pg_replication_slots WHERE slot_name = %s",
                (self.name,),
            )
            if not rows:
                break
            active, pid = rows[0]
            if not active:
                s.fetch("SELECT pg_drop_replication_slot(%s)", (self.name,))
                break
            if time.monotonic() > deadline:
                if terminated:
                    raise SourceError(
                        f"the replication slot {self.name} is still in use by process {pid} "
                        f"on the {s.where}; drop it with pg_drop_replication_slot once it stops"
                    )
                s.fetch("SELECT pg_terminate_backend(%s)", (pid,))
                terminated = True
                deadline = time.monotonic() + SLOT_RELEASE_SECONDS
            time.sleep(0.1)
        if self.own_publication:  # the DBA's publication is theirs
            s.execute(f"DROP PUBLICATION IF EXISTS {s.quote(self.name)}")

    def position_problem(self, position: str) -> str | None:
        rows = self.source.fetch(
            "SELECT wal_status FROM pg_replication_slots WHERE slot_name = %s",
            (self.name,),
        )
        if not rows:
            return (
                f"the replication slot {self.name} no longer exists on the {self.source.where}, "
                "so the changes since the last checkpoint are gone; start a new job"
            )
        # A slot ahead of the job's checkpoint is no loss: psycopg2 forwards an idle slot's
        # confirmed position to the server's WAL end on keepalives once every message it
        # received was confirmed, so nothing for this job lies in between (a server shutdown
        # does exactly that), and only this job reads its slot.
        if rows[0][0] == "lost":
            return (
                f"the replication slot {self.name} was invalidated (the server removed WAL it "
                "needed, see max_slot_wal_keep_size); start a new job"
            )
        return None

    def lag(self, position: str) -> SourceLag:
        rows = self.source.fetch(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint "
            "FROM pg_replication_slots WHERE slot_name = %s",
            (self.name,),
        )
        return SourceLag(None, int(rows[0][0]) if rows and rows[0][0] is not None else None)

    def backlog(self, position: str) -> Backlog:
        """WAL after `position`, and the transactions in it that touch the published tables,
        counted by peeking at the (idle) slot without consuming it; up to BACKLOG_PEEK rows."""
        (behind,) = self.source.fetch(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)::bigint", (position,)
        )[0]
        rows = self.source.fetch(
            "SELECT active FROM pg_replication_slots WHERE slot_name = %s", (self.name,)
        )
        if not rows or rows[0][0]:
            return Backlog(max(0, int(behind)), None)  # gone, or being read: no peeking
        (begins, total) = self.source.fetch(
            "SELECT count(*) FILTER (WHERE get_byte(data, 0) = 66), count(*) "
            "FROM pg_logical_slot_peek_binary_changes(%s, NULL, %s, "
            "'proto_version', '1', 'publication_names', %s)",
            (self.name, BACKLOG_PEEK, self.publication),
        )[0]
        return Backlog(max(0, int(behind)), int(begins), at_least=int(total) >= BACKLOG_PEEK)

    def wait_visible(self, transactions: list[Transaction]) -> None:
        """Poll a fresh snapshot until no transaction of the batch is still running in it.

        One query per poll; the window is milliseconds, so this rarely loops.
        """
        xids = [t.xid for t in transactions if t.xid is not None and t.changes]
        if not xids:
            return
        deadline = time.monotonic() + VISIBLE_TIMEOUT
        while True:
            xmax, running = self.source.fetch(
                "SELECT pg_snapshot_xmax(s)::text::bigint, "
                "ARRAY(SELECT pg_snapshot_xip(s)::text::bigint) FROM pg_current_snapshot() s"
            )[0]
            full = [_widen(x, xmax) for x in xids]
            if all(x < xmax and x not in running for x in full):
                return
            if time.monotonic() > deadline:
                raise SourceError(
                    f"transactions {xids} were streamed but are still not visible on the "
                    f"{self.source.where} after {VISIBLE_TIMEOUT:.0f} s"
                )
            time.sleep(0.002)

    def mark(self) -> str:
        # The message's transaction commits after it, so its end LSN is past this one.
        (lsn,) = self.source.fetch(
            "SELECT pg_logical_emit_message(true, %s, '')::text", (HEARTBEAT_PREFIX,)
        )[0]
        return str(lsn)

    def reached(self, position: str, mark: str) -> bool:
        return str_to_lsn(position) >= str_to_lsn(mark)

    def stream(self, position: str, on_drift: DriftSink | None = None) -> ChangeStream:
        problem = self.position_problem(position)
        if problem:
            raise PositionLost(problem)
        return PgOutputStream(self, str_to_lsn(position), self.heartbeat_seconds, on_drift)


VISIBLE_TIMEOUT = 30.0
BACKLOG_PEEK = 100_000  # pgoutput messages decoded at most to count a paused job's backlog
SLOT_RELEASE_SECONDS = 10.0


def _widen(xid: int, xmax: int) -> int:
    """A 32-bit xid from pgoutput as the 64-bit one of the snapshot (same or previous epoch).

    The transaction is at most a little past `xmax` (it is just finishing), or far below it.
    """
    epoch, low = xmax >> 32, xmax & 0xFFFFFFFF
    full = (epoch << 32) | xid
    if xid > low and xid - low > 1 << 31:
        full -= 1 << 32
    return full


_IDENTITY = {"d": "DEFAULT", "n": "NOTHING", "f": "FULL", "i": "USING INDEX"}


class PgOutputStream(ChangeStream):
    """Committed transactions from a pgoutput slot, with protocol v2 streaming.

    Large transactions arrive in chunks (Stream Start … Stream Stop) and are spooled per xid
    (memory, then disk: relmig.source.spool) until their Stream Commit; an abort drops them, or
    only a subtransaction's part. Feedback is sent on this thread: `confirm` only records the
    position.
    """

    def __init__(
        self,
        capture: PostgresCapture,
        start_lsn: int,
        heartbeat_seconds: float = 10.0,
        on_drift: DriftSink | None = None,
    ) -> None:
        self.capture = capture
        self.on_drift = on_drift
        self.heartbeat_seconds = heartbeat_seconds
        self._last_position = lsn_to_str(start_lsn)
        self.source = capture.source
        self.table_ids = set(capture.tables)
        self.start_lsn = start_lsn
        self._confirmed = start_lsn
        self._sent = -1
        self._heard = time.monotonic()  # when the server was last heard from
        self._lock = threading.Lock()
        self._shapes = self._catalog_shapes()
        # The stream's own query connection, set up as the snapshot reader's is, so the row
        # loader turns tuple text into the same values.
        self._queries = PostgresSource(capture.project.source, capture.password, writable=True)
        self._context = self._queries.conn
        # Before the stream starts: a partition attached from here on is seen as new.
        self._partitions = PartitionWatch(
            self._queries, [capture.project.table(t) for t in capture.tables]
        )
        # Silence longer than this means a stalled stream: while idle, our heartbeat message
        # comes back every heartbeat_seconds, and while the walsender decodes something it
        # does not send, it sends keepalives every wal_sender_timeout / 2 (set to this).
        self.silence = max(stream_timeout(), 3 * heartbeat_seconds)
        self._conn = self._connect()
        self.cur = self._conn.cursor()
        try:
            with deadline(self._conn.fileno(), self.silence):
                self.cur.start_replication(
                    slot_name=capture.name,
                    decode=False,
                    start_lsn=start_lsn,
                    options={
                        "proto_version": "2",
                        "publication_names": capture.publication,
                        "streaming": "on",
                        "messages": "true",
                    },
                )
        except psycopg2.Error as exc:
            self.close()
            raise self._lost(exc) from None
        self.relations = pg.RelationCache()
        self.loader = pg.RowLoader(self._context)
        self.decoder = pg.Decoder()

    def _connect(self) -> Any:
        s = self.source
        host, port = s.replication_address
        timeout = f"-c wal_sender_timeout={int(self.silence * 1000)}"
        try:
            return psycopg2.connect(
                host=host,
                port=port,
                dbname=s.settings.database,
                user=s.settings.user,
                password=s.password,
                connection_factory=LogicalReplicationConnection,
                application_name=f"relmig {self.capture.job_id}",
                options=f"{pg.STREAM_SESSION_OPTIONS} {timeout}",
                **CONNECT_SETTINGS,
                **libpq_settings(s.settings),
            )
        except psycopg2.Error as exc:
            self._queries.close()
            what = f"cannot open a replication connection to the {s.where} (at {host}:{port})"
            raise refusal(exc, what, s.settings.password_env) or StreamError(
                f"{what}: {str(exc).strip().splitlines()[0]}"
            ) from None

    def _lost(self, exc: BaseException) -> StreamError:
        host, port = self.source.replication_address
        return StreamError(
            f"lost the replication stream from the {self.source.where} (at {host}:{port}): "
            f"{str(exc).strip().splitlines()[0]}"
        )

    def _catalog_shapes(self) -> dict[str, frozenset[tuple[str, int, int]]]:
        """Each mapped table's published columns now, and the drift since import: a Relation
        message that differs from its table's shape means DDL in the stream. The shapes are
        read first, so DDL between the two reads is met again in the stream, never missed."""
        out: dict[str, frozenset[tuple[str, int, int]]] = {t: frozenset() for t in self.table_ids}
        rows = self.source.fetch(
            "SELECT n.nspname || '.' || c.relname, a.attname, a.atttypid::int, a.atttypmod "
            "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname || '.' || c.relname = ANY(%s) AND a.attnum > 0 "
            "AND NOT a.attisdropped AND a.attgenerated = ''",
            (sorted(self.table_ids),),
        )
        for table_id, name, oid, modifier in rows:
            out[table_id] = out[table_id] | {(name, oid, modifier)}
        act_on(
            current_drift(self.capture.project, self.capture.password, self.table_ids),
            self.on_drift,
        )
        return out

    def confirm(self, position: str) -> None:
        with self._lock:
            self._confirmed = max(self._confirmed, str_to_lsn(position))

    def close(self) -> None:
        for closer in (self._conn.close, self._queries.close):
            with contextlib.suppress(Exception):
                closer()

    # --- reading ------------------------------------------------------------------------------

    def _feedback(self) -> None:
        with self._lock:
            confirmed = self._confirmed
        if confirmed != self._sent:
            self.cur.send_feedback(flush_lsn=confirmed, reply=True, force=True)
            self._sent = confirmed
        else:
            self.cur.send_feedback()

    def keepalive(self) -> None:
        """A standby status update with the confirmed position: the walsender's timeout
        counts from the last one it received, not from the last read."""
        with self._lock:
            confirmed = self._confirmed
        try:
            self.cur.send_feedback(flush_lsn=confirmed, force=True)
        except psycopg2.Error as exc:
            raise self._lost(exc) from None
        self._sent = confirmed
        self._heard = time.monotonic()  # the server's silence counts only while we read

    def events(self, idle_seconds: float = 1.0) -> Iterator[Transaction | Heartbeat]:
        pending = SpooledChanges()
        streamed: dict[int, SpooledChanges] = {}
        top_xid: int | None = None
        xid: int | None = None
        last_yield = last_beat = self._heard = time.monotonic()
        wal_end = self.cur.wal_end
        between = True  # no transaction half read: a partition's rows may go in here
        try:
            while True:
                self._feedback()
                moved = self._partitions.changes() if between and top_xid is None else None
                if moved is not None:
                    # At the last position: a resume finds the move again (the watch starts
                    # from the project's list), and the rows' roots are rebuilt from the source.
                    yield Transaction(self._last_position, dt.datetime.now(dt.UTC), moved)
                msg = self.cur.read_message()
                if msg is None:
                    now = time.monotonic()
                    if self.cur.wal_end != wal_end:  # a keepalive
                        wal_end, self._heard = self.cur.wal_end, now
                    elif now - self._heard > self.silence:
                        raise self._stalled(now - self._heard)
                    if now - last_beat >= self.heartbeat_seconds:
                        last_beat = now
                        self._emit_heartbeat()
                    if now - last_yield >= idle_seconds:
                        last_yield = now
                        yield Heartbeat(self._last_position, dt.datetime.now(dt.UTC))
                    select.select([self._conn], [], [], min(idle_seconds, 0.5))
                    continue
                self._heard = time.monotonic()
                m = self.decoder.decode(msg.payload)
                kind = type(m)
                if kind is pg.Begin:
                    pending = SpooledChanges()
                    xid = m.xid
                    between = False
                elif kind is pg.Commit:
                    between = True
                    if m.end_lsn > self.start_lsn:
                        last_yield = time.monotonic()
                        self._last_position = lsn_to_str(m.end_lsn)
                        yield Transaction(self._last_position, m.commit_time, pending, xid)
                    pending = SpooledChanges()
                elif kind is pg.StreamStart:
                    top_xid = m.xid
                    streamed.setdefault(m.xid, SpooledChanges())
                elif kind is pg.StreamStop:
                    top_xid = None
                elif kind is pg.StreamCommit:
                    changes = streamed.pop(m.xid, None) or SpooledChanges()
                    if m.end_lsn > self.start_lsn:
                        last_yield = time.monotonic()
                        self._last_position = lsn_to_str(m.end_lsn)
                        yield Transaction(self._last_position, m.commit_time, changes, m.xid)
                elif kind is pg.StreamAbort:
                    if m.subxid == m.xid:
                        streamed.pop(m.xid, None)
                    elif m.xid in streamed:
                        streamed[m.xid].drop(m.subxid)
                elif kind is pg.Relation:
                    self._relation(m)
                elif kind in (pg.Insert, pg.Update, pg.Delete, pg.Truncate):
                    change = self._change(m)
                    if change is None:
                        continue
                    if top_xid is not None:
                        streamed[top_xid].append(change, m.xid)
                    else:
                        pending.append(change)
        except psycopg2.Error as exc:
            raise self._lost(exc) from None

    def _stalled(self, quiet: float) -> StreamError:
        host, port = self.source.replication_address
        return StreamError(
            f"the replication stream from the {self.source.where} (at {host}:{port}) sent "
            f"nothing for {quiet:.0f} s, neither changes nor keepalives: the connection "
            f"stalled (bound: {STREAM_TIMEOUT}, at least 3 heartbeats)"
        )

    def _emit_heartbeat(self) -> None:
        """A tiny transactional message in the WAL, like Debezium's heartbeat action query.

        Published tables can be idle while the server writes WAL for others; the message comes
        back as an empty transaction whose position we confirm, so the slot keeps advancing
        and retains no WAL for nothing (DESIGN-NOTES §2.1).
        """
        self._queries.execute("SELECT pg_logical_emit_message(true, %s, '')", (HEARTBEAT_PREFIX,))

    def _relation(self, rel: pg.Relation) -> None:
        """A relation whose shape changed is compared with the catalog now, not with the
        message: a column the message lacks but the table has was added after these rows
        (a stream replayed past an ADD COLUMN after a mapping update), and recompute reads
        current rows. A column the table lacks now stops the stream here."""
        table_id = f"{rel.namespace}.{rel.name}"
        shape = frozenset((c.name, c.type_oid, c.type_modifier) for c in rel.columns)
        if table_id in self.table_ids and shape != self._shapes[table_id]:
            now = current_drift(self.capture.project, self.capture.password, [table_id])
            act_on(now, self.on_drift)
            self._shapes[table_id] = shape
        self.relations.add(rel)

    def _change(self, m: Any) -> RowChange | TableTruncate | None:
        if isinstance(m, pg.Truncate):
            tables = [self._table_id(self.relations[r]) for r in m.relation_ids]
            mapped = [t for t in tables if t in self.table_ids]
            return TableTruncate(mapped) if mapped else None
        rel = self.relations[m.relation_id]
        table_id = self._table_id(rel)
        if table_id not in self.table_ids:
            return None
        if isinstance(m, pg.Insert):
            return RowChange(table_id, "c", None, self.loader.load(rel, m.new))
        if isinstance(m, pg.Update):
            before = self._old(rel, m.old, m.old_kind) if m.old is not None else None
            after = self.loader.load(rel, m.new)
            if before is not None and pg.UNCHANGED in after.values():
                for name, value in after.items():
                    if value is pg.UNCHANGED and name in before:
                        after[name] = before[name]
            return RowChange(table_id, "u", before, after)
        return RowChange(table_id, "d", self._old(rel, m.old, m.old_kind), None)

    def _old(self, rel: pg.Relation, data: pg.TupleData, kind: str | None) -> dict[str, Any]:
        row = self.loader.load(rel, data)
        if kind == "K":
            # The replica identity's columns only; the others are nulls that mean "not sent".
            # Identity columns are never null, and the relation may flag none of them: a
            # partitioned table published as its partitions' root has the partitions' identity.
            row = {k: v for k, v in row.items() if v is not None}
        return row

    @staticmethod
    def _table_id(rel: pg.Relation) -> str:
        return f"{rel.namespace}.{rel.name}"
