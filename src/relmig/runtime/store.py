"""The state store: jobs, per-collection snapshot checkpoints, the Issues list, schema drift,
mapping changes.

SQLAlchemy Core keeps one code path for the default SQLite file and for a shared PostgreSQL
database (`RELMIG_STATE_URL`).

It is one store over one database: a process opens one engine, and a write that spans record
kinds (a checkpoint with the collection's floor and the job's heartbeat) stays one transaction.
Its methods live in relmig.runtime.records, a module per record kind, so each can be read on its
own; this module composes them and keeps every name the rest of relmig imports from here.
"""

from __future__ import annotations

from relmig.runtime.records.base import relmig_home
from relmig.runtime.records.conditions import ConditionRecords
from relmig.runtime.records.drift import DriftRecords
from relmig.runtime.records.issues import IssueRecord, IssueRecords
from relmig.runtime.records.jobs import JobRecords, current_slot_lag
from relmig.runtime.records.kafka import KafkaRecords
from relmig.runtime.records.progress import ProgressRecords, RangeBounds
from relmig.runtime.records.recopies import RecopyRecords
from relmig.runtime.records.tables import (
    CAPTURE_STARTED,
    CDC_DRAINED,
    SNAPSHOT_DONE,
    SNAPSHOT_PLANNED,
    STOPPED_UNEXPECTEDLY,
    TARGET_PREPARED,
    aware,
    kafka_tasks,
    utcnow,
)

__all__ = [
    "CAPTURE_STARTED",
    "CDC_DRAINED",
    "SNAPSHOT_DONE",
    "SNAPSHOT_PLANNED",
    "STOPPED_UNEXPECTEDLY",
    "TARGET_PREPARED",
    "IssueRecord",
    "RangeBounds",
    "StateStore",
    "aware",
    "current_slot_lag",
    "kafka_tasks",
    "relmig_home",
    "utcnow",
]


class StateStore(
    JobRecords,
    ProgressRecords,
    IssueRecords,
    ConditionRecords,
    DriftRecords,
    KafkaRecords,
    RecopyRecords,
):
    """The job state of one database, every record kind over the same engine."""
