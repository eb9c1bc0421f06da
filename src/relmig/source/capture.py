"""What a CDC job needs from a source, behind one interface (Debezium's connector, in small).

Each database has its implementation: PostgreSQL (`pg_capture`: publication + pgoutput slot) and
MySQL/MariaDB (`binlog`: GTID or file:position). The job runtime only talks to this class.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from relmig.project.model import EmbedRule, Project, Table
from relmig.source.changes import ChangeStream, Transaction
from relmig.source.drift import DriftSink


@dataclass(slots=True)
class Prerequisite:
    """One CDC prerequisite that does not hold, and the SQL that fixes it (None: not SQL)."""

    name: str  # e.g. "wal_level", "replica identity of public.orders"
    problem: str  # what is wrong, in the user's terms
    fix: str | None  # SQL statement(s), or None when it needs a config file / restart
    note: str | None = None  # e.g. "needs a server restart"
    snapshot: bool = False  # a snapshot job needs it too (reading the table), not only CDC


@dataclass(slots=True)
class SourceLag:
    seconds: float | None  # commit time of the newest source change minus now, when known
    bytes: int | None  # WAL retained for the slot / binlog bytes behind


@dataclass(slots=True)
class Backlog:
    """Changes committed after a position and not applied yet (a paused job's waiting work)."""

    bytes: int | None  # WAL / binlog bytes after the position
    transactions: int | None  # transactions after it, where the source can tell
    at_least: bool = False  # counting stopped early: there are at least `transactions`


class ChangeCapture(ABC):
    """CDC for one job: named after the job, so that several jobs never share a slot."""

    def __init__(self, project: Project, job_id: str, password: str | None = None) -> None:
        self.project = project
        self.job_id = job_id
        self.password = password

    @abstractmethod
    def check(self) -> list[Prerequisite]:
        """Every missing prerequisite for CDC of the project's mapped tables (empty: ready)."""

    @abstractmethod
    def start(self) -> str:
        """Create what the job reads from (slot, publication) and return the position to
        stream from. Called *before* the snapshot starts, so nothing committed after the
        snapshot's reads is missed; changes that overlap the snapshot only cause recomputes."""

    def cover(self) -> None:
        """Make what the job reads from carry the project's mapped tables now (a mapping
        update added some). The binlog carries every table: nothing to do."""
        return None

    @abstractmethod
    def stream(self, position: str, on_drift: DriftSink | None = None) -> ChangeStream:
        """Changes committed after `position`, for the project's mapped tables; additive
        schema drift met on the way is reported to `on_drift` (breaking drift raises
        `SchemaChanged` where it occurs)."""

    @abstractmethod
    def position_problem(self, position: str) -> str | None:
        """Why the source can no longer stream from `position` (slot gone or invalidated,
        binlog purged), or None if it can."""

    @abstractmethod
    def lag(self, position: str) -> SourceLag: ...

    @abstractmethod
    def backlog(self, position: str) -> Backlog:
        """What waits after `position` while nothing reads the stream (a paused job)."""

    @abstractmethod
    def wait_visible(self, transactions: list[Transaction]) -> None:
        """Return once new reads of the source see these transactions' changes.

        A source sends a commit to its log readers a moment before new snapshots see it
        (PostgreSQL flushes the commit record, wakes the walsender, then leaves the proc
        array; MySQL writes the binlog before the engine commits). A recompute that read in
        that window would write the old state and then checkpoint past the change.
        """

    @abstractmethod
    def mark(self) -> str:
        """A position the stream will reach once everything committed so far has arrived
        (what "Complete CDC" drains to)."""

    @abstractmethod
    def reached(self, position: str, mark: str) -> bool:
        """Whether an applied `position` is at or past `mark`."""

    @abstractmethod
    def cleanup(self) -> None:
        """Drop what `start` created; safe to call twice."""

    @abstractmethod
    def close(self) -> None:
        """Close the capture's own query connection (streams close themselves)."""


def mapped_tables(project: Project) -> list[Table]:
    """The tables some collection reads, as root or embedded: the only ones CDC watches."""
    used: set[str] = set()

    def visit(table: str, embeds: list[EmbedRule]) -> None:
        used.add(table)
        for e in embeds:
            visit(e.table, e.embeds)

    for c in project.collections:
        visit(c.table, c.embeds)
    return [t for t in project.tables if t.id in used]


def fix_script(missing: list[Prerequisite], title: str = "CDC prerequisites") -> str:
    """Relational Migrator's "Generate Script": the SQL that fixes what `check` found."""
    lines = [f"-- relmig: {title}"]
    for p in missing:
        lines.append(f"-- {p.name}: {p.problem}" + (f" ({p.note})" if p.note else ""))
        lines.append(p.fix if p.fix else "-- (not fixable in SQL; see above)")
    return "\n".join(lines) + "\n"


def missing_prerequisites(project: Project, password: str | None = None) -> list[Prerequisite]:
    """What the source lacks for CDC of the project's mapped tables (empty: ready)."""
    capture = open_capture(project, "check", password)
    try:
        return capture.check()
    finally:
        capture.close()


def open_capture(project: Project, job_id: str, password: str | None = None) -> ChangeCapture:
    if project.source.dialect == "postgresql":
        from relmig.source.pg_capture import PostgresCapture

        return PostgresCapture(project, job_id, password)
    from relmig.source.binlog import BinlogCapture

    return BinlogCapture(project, job_id, password)
