"""Change events: what every change stream (pgoutput, binlog) yields and the router consumes.

One model for both sources keeps the router, the CDC loop and the Kafka envelope unaware of
where a change came from. Row images are ``{column: value}`` dicts with the same Python values
the snapshot reader gets for the row; a PostgreSQL TOAST column the change did not touch is
:data:`UNCHANGED`, never a value.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from relmig.source.pgoutput import UNCHANGED, Unchanged
from relmig.source.spool import SpooledChanges

__all__ = [
    "UNCHANGED",
    "ChangeStream",
    "Changes",
    "Heartbeat",
    "RowChange",
    "TableTruncate",
    "Transaction",
    "Unchanged",
    "last_change",
]

Image = dict[str, Any]


@dataclass(slots=True)
class RowChange:
    """One row's insert ("c"), update ("u") or delete ("d"), Debezium's op letters.

    ``before`` is the whole old row where the source gives it (REPLICA IDENTITY FULL, binlog
    FULL row image), only the key columns otherwise, and None for inserts.
    """

    table: str  # the project's table id, "schema.name"
    op: Literal["c", "u", "d"]
    before: Image | None
    after: Image | None


@dataclass(slots=True)
class TableTruncate:
    tables: list[str]


Changes = list[RowChange | TableTruncate] | SpooledChanges


@dataclass(slots=True)
class Transaction:
    """A committed source transaction, in commit order.

    ``position`` is where a stream resumes once this transaction is durably in the target: the
    commit's end LSN, or the binlog GTID / file:position after its commit. Positions are
    strings so that the state store and Kafka keep them without knowing the source.
    ``changes`` is iterated once, in order: a large transaction's are spooled to disk.
    """

    position: str
    commit_time: dt.datetime
    changes: Changes = field(default_factory=list)
    xid: int | None = None  # PostgreSQL's transaction id, to wait until it is visible


def last_change(changes: Changes) -> RowChange | TableTruncate | None:
    if isinstance(changes, SpooledChanges):
        return changes.last
    return changes[-1] if changes else None


@dataclass(slots=True)
class Heartbeat:
    """Nothing to apply, but the source is at ``position`` (idle tables, filtered changes).

    Confirming it lets the source release what it retains (PostgreSQL WAL) while our tables are
    idle; its ``position`` never runs ahead of an unapplied transaction.
    """

    position: str
    at: dt.datetime


class ChangeStream(ABC):
    """A source's committed changes from a saved position on.

    ``confirm`` may be called from another thread than the one iterating; the stream reports
    the confirmed position to the source (feedback to the slot) on its own thread.
    """

    @abstractmethod
    def events(self, idle_seconds: float = 1.0) -> Iterator[Transaction | Heartbeat]:
        """Yield transactions in commit order; a Heartbeat at least every ``idle_seconds``."""

    @abstractmethod
    def confirm(self, position: str) -> None:
        """Everything up to ``position`` is durably in the target; the source may forget it."""

    @abstractmethod
    def keepalive(self) -> None:
        """Called on the reading thread while it cannot read (the applier is busy): tell the
        source the reader is alive, so it does not end the stream for silence."""

    @abstractmethod
    def close(self) -> None: ...


def last_change_at(transactions: Sequence[Transaction]) -> dt.datetime | None:
    """The commit time of the newest transaction that changed a mapped row: what "last event"
    means. A heartbeat comes back as an empty transaction and counts no event, so it must not
    move the last event's time either (the job said "events 0" beside a fresh last event)."""
    return next((t.commit_time for t in reversed(transactions) if len(t.changes)), None)
