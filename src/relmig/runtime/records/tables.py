"""The state database's tables, in one `MetaData`.

Every record kind reads and writes these (a checkpoint touches progress, floors and the job in
one transaction), and `relmig.runtime.store_upgrade` adds the columns an older file lacks, so
the schema is defined once, here, apart from the code that uses it.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

metadata = sa.MetaData()

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("project", sa.String(200), nullable=False),
    sa.Column("mode", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("cdc_status", sa.String(20), nullable=False, default="NOT_STARTED"),
    sa.Column("stage", sa.String(40), nullable=False),
    sa.Column("target_uri", sa.Text, nullable=False),
    sa.Column("target_db", sa.String(200), nullable=False),
    sa.Column("options", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("ended_at", sa.DateTime(timezone=True)),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True)),
    sa.Column("failure", sa.Text),
    # Why it failed: "stopped" (its process died), "error" (it failed by itself).
    sa.Column("failure_kind", sa.String(20)),
    sa.Column("error_count", sa.Integer, nullable=False, default=0),
    # Continuous jobs: what resume needs, where CDC stands, and what the CLI/UI show.
    sa.Column("project_doc", sa.JSON),
    sa.Column("position", sa.Text),
    sa.Column("failed_at", sa.DateTime(timezone=True)),
    sa.Column("request", sa.String(20)),
    # A new version of the project that a running job takes at its next batch (request UPDATE).
    sa.Column("update_doc", sa.JSON),
    # Why the job was stopped by its process (a signal): "stopped by SIGTERM".
    sa.Column("stop_reason", sa.Text),
    sa.Column("slot_dropped", sa.Boolean, nullable=False, default=False),
    sa.Column("events_total", sa.BigInteger, nullable=False, default=0),
    sa.Column("last_event_at", sa.DateTime(timezone=True)),
    sa.Column("lag_seconds", sa.Float),
    sa.Column("slot_lag_bytes", sa.BigInteger),
    # "Verify migrated data at the end": VerifyReport.as_dict() of the last verification.
    sa.Column("verify_result", sa.JSON),
)

# The steps of a job's life that are done, each recorded when it completes. Lifecycle decisions
# read these (never a counter such as events applied: a resume that took `events == 0` for "CDC
# never began" once dropped a finished snapshot).
job_steps = sa.Table(
    "job_steps",
    metadata,
    sa.Column("job_id", sa.String(40), sa.ForeignKey("jobs.id"), primary_key=True),
    sa.Column("step", sa.String(40), primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

# The least number of documents each collection must hold: raised by snapshot checkpoints,
# lowered *before* a CDC write that may remove documents, restored after it. A resume that
# finds fewer documents refuses to stream on (the target lost data since the job last ran).
target_floors = sa.Table(
    "target_floors",
    metadata,
    sa.Column("job_id", sa.String(40), sa.ForeignKey("jobs.id"), primary_key=True),
    sa.Column("collection", sa.String(200), primary_key=True),
    sa.Column("documents", sa.BigInteger, nullable=False),
)

event_counts = sa.Table(
    "event_counts",
    metadata,
    sa.Column("job_id", sa.String(40), sa.ForeignKey("jobs.id"), primary_key=True),
    sa.Column("minute", sa.DateTime(timezone=True), primary_key=True),
    sa.Column("events", sa.BigInteger, nullable=False),
    # The highest commit-to-target lag seen in the minute (sampled by the heartbeat).
    sa.Column("lag_seconds", sa.Float),
)

progress = sa.Table(
    "progress",
    metadata,
    sa.Column("job_id", sa.String(40), sa.ForeignKey("jobs.id"), primary_key=True),
    sa.Column("collection", sa.String(200), primary_key=True),
    sa.Column("table_id", sa.String(400), nullable=False),
    sa.Column("rows_total", sa.BigInteger),
    sa.Column("rows_done", sa.BigInteger, nullable=False, default=0),
    sa.Column("last_key", sa.Text),
    sa.Column("done", sa.Boolean, nullable=False, default=False),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
)

# A parallel snapshot's work: each collection's root keys split into ranges (`lower` exclusive,
# `upper` inclusive, null: open), each with its own checkpoint, so a resume continues every
# range where it stopped. Written in one transaction with the SNAPSHOT_PLANNED step.
snapshot_ranges = sa.Table(
    "snapshot_ranges",
    metadata,
    sa.Column("job_id", sa.String(40), sa.ForeignKey("jobs.id"), primary_key=True),
    sa.Column("collection", sa.String(200), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("lower", sa.Text),
    sa.Column("upper", sa.Text),
    sa.Column("last_key", sa.Text),
    sa.Column("rows_done", sa.BigInteger, nullable=False, default=0),
    sa.Column("done", sa.Boolean, nullable=False, default=False),
    sa.Column("worker", sa.String(200)),  # the process that checkpointed it last
    sa.Column("updated_at", sa.DateTime(timezone=True)),
)

issues = sa.Table(
    "issues",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.String(40), sa.ForeignKey("jobs.id"), nullable=False, index=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("severity", sa.String(10), nullable=False),
    sa.Column("collection", sa.String(200)),
    sa.Column("table_id", sa.String(400)),
    sa.Column("key", sa.Text),
    sa.Column("field", sa.String(400)),
    sa.Column("detail", sa.Text, nullable=False),
    # The same problem seen again (a resumed job rebuilding a page, a CDC replay, a root
    # recomputed again) is counted on its first row, not listed twice.
    sa.Column("occurrences", sa.Integer, nullable=False, default=1),
    sa.Column("last_at", sa.DateTime(timezone=True)),
    # sha1 of the problem's fields: finding a repeat is an index lookup, not a scan of the
    # job's issues (a SKIP job can record hundreds of thousands).
    sa.Column("fingerprint", sa.String(40)),
    sa.Index("ix_issues_job_fingerprint", "job_id", "fingerprint"),
)

# A link of the job that is failing right now (relmig.links): since when, when the next attempt
# is due, the last error. Written by the embedded engine's retry loop and the Kafka supervisor's
# health checks while the fault lasts, deleted once the link works again.
job_conditions = sa.Table(
    "job_conditions",
    metadata,
    sa.Column("job_id", sa.String(40), sa.ForeignKey("jobs.id"), primary_key=True),
    sa.Column("link", sa.String(20), primary_key=True),
    sa.Column("since", sa.DateTime(timezone=True), nullable=False),
    sa.Column("retry_at", sa.DateTime(timezone=True)),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# Schema drift a running job met at its source (relmig.source.drift): one row per table, kind
# and column, first and last seen. Breaking drift paused the job; its recovery window counts
# from the first one.
job_drift = sa.Table(
    "job_drift",
    metadata,
    sa.Column("job_id", sa.String(40), sa.ForeignKey("jobs.id"), primary_key=True),
    sa.Column("table_id", sa.String(400), primary_key=True),
    sa.Column("kind", sa.String(40), primary_key=True),
    sa.Column("column", sa.String(200), primary_key=True),  # "" for a whole table
    sa.Column("breaking", sa.Boolean, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
)

# A mapping change of a running job (`relmig jobs update`): one row per collection it copies
# again (into `shadow`, swapped in when copied) or drops, with the copy's checkpoint. The rows
# of the last update stay, DONE, until the next one.
job_recopies = sa.Table(
    "job_recopies",
    metadata,
    sa.Column("job_id", sa.String(40), sa.ForeignKey("jobs.id"), primary_key=True),
    sa.Column("collection", sa.String(200), primary_key=True),
    sa.Column("action", sa.String(10), nullable=False),  # copy or drop
    sa.Column("shadow", sa.String(260)),
    sa.Column("table_id", sa.String(400)),
    sa.Column("state", sa.String(10), nullable=False),  # COPYING, COPIED or DONE
    sa.Column("last_key", sa.Text),
    sa.Column("rows_done", sa.BigInteger, nullable=False, default=0),
    sa.Column("rows_total", sa.BigInteger),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# Kafka mode: one row per task (the source task, each sink worker), written by the task
# (progress) and by the supervisor (restarts, health checks); and consumer lag per partition.
kafka_tasks = sa.Table(
    "kafka_tasks",
    metadata,
    sa.Column("job_id", sa.String(40), sa.ForeignKey("jobs.id"), primary_key=True),
    sa.Column("task", sa.String(200), primary_key=True),
    sa.Column("host", sa.String(200)),
    sa.Column("pid", sa.Integer),
    sa.Column("state", sa.String(20)),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True)),
    sa.Column("events_total", sa.BigInteger, nullable=False, default=0),
    sa.Column("events_per_second", sa.Float),
    sa.Column("last_event_at", sa.DateTime(timezone=True)),
    sa.Column("lag_seconds", sa.Float),
    sa.Column("assigned", sa.Text),
    sa.Column("last_error", sa.Text),
    # The link (relmig.links) that last_error is a failure of, if it is one.
    sa.Column("error_link", sa.String(20)),
    sa.Column("restarts", sa.Integer, nullable=False, default=0),
    sa.Column("health", sa.Text),
    sa.Column("checked_at", sa.DateTime(timezone=True)),
)

kafka_partitions = sa.Table(
    "kafka_partitions",
    metadata,
    sa.Column("job_id", sa.String(40), sa.ForeignKey("jobs.id"), primary_key=True),
    sa.Column("partition", sa.Integer, primary_key=True),
    sa.Column("end_offset", sa.BigInteger),
    sa.Column("committed", sa.BigInteger),
    sa.Column("lag", sa.BigInteger),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
)

# The failure of a job whose process died (not one that failed by itself).
STOPPED_UNEXPECTEDLY = "stopped unexpectedly"

# Steps (job_steps.step), in the order a job takes them.
CAPTURE_STARTED = "capture_started"  # slot + publication or binlog position; position saved
TARGET_PREPARED = "target_prepared"  # collections dropped (if asked) and indexed, once per job
SNAPSHOT_PLANNED = "snapshot_planned"  # a parallel snapshot's key ranges recorded, once per job
SNAPSHOT_DONE = "snapshot_done"  # every collection copied; the stage is CDC from here on
CDC_DRAINED = "cdc_drained"  # complete: every change up to the cutover mark applied


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def aware(value: dt.datetime) -> dt.datetime:
    """SQLite returns naive datetimes; every time we store is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
