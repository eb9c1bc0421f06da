"""The state store: jobs, per-collection snapshot checkpoints and the Issues list.

SQLAlchemy Core keeps one code path for the default SQLite file and for a shared PostgreSQL
database (`RELMIG_STATE_URL`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from relmig.runtime.store_upgrade import add_missing_columns

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


def relmig_home() -> Path:
    return Path(os.environ.get("RELMIG_HOME", Path.home() / ".relmig"))


def _private_file(path: Path) -> None:
    """The store holds job history and issue samples (row keys): its directory is created
    0700 and the file 0600, as SQLite then creates its journal files like the file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


def default_url() -> str:
    url = os.environ.get("RELMIG_STATE_URL")
    if url:
        return url
    return f"sqlite:///{relmig_home() / 'state.db'}"


# A key range as the store keeps it: (lower exclusive, upper inclusive), dumped keys or None.
RangeBounds = tuple[str | None, str | None]


@dataclass(slots=True)
class IssueRecord:
    severity: str
    collection: str | None
    table_id: str | None
    key: str | None
    field: str | None
    detail: str


class StateStore:
    def __init__(self, url: str | None = None) -> None:
        self.url = url or default_url()
        parsed = sa.engine.make_url(self.url)
        if parsed.get_backend_name() == "sqlite" and parsed.database:
            _private_file(Path(parsed.database))
        self.engine = sa.create_engine(self.url)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        metadata.create_all(self.engine)
        add_missing_columns(self.engine, metadata)

    @property
    def where(self) -> str:
        """The store's URL for messages: a shared PostgreSQL store's password is not shown."""
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as conn:
            yield conn

    # --- jobs ---------------------------------------------------------------------------------

    def create_job(
        self,
        project: str,
        mode: str,
        target_uri: str,
        target_db: str,
        options: dict[str, Any],
        project_doc: dict[str, Any] | None = None,
    ) -> str:
        job_id = "job-" + secrets.token_hex(4)
        now = utcnow()
        with self._tx() as conn:
            conn.execute(
                jobs.insert().values(
                    id=job_id,
                    project=project,
                    mode=mode,
                    status="RUNNING",
                    cdc_status="NOT_STARTED",
                    stage="SNAPSHOT",
                    target_uri=target_uri,
                    target_db=target_db,
                    options=options,
                    project_doc=project_doc,
                    created_at=now,
                    started_at=now,
                    heartbeat_at=now,
                    error_count=0,
                )
            )
        return job_id

    def job(self, job_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(jobs.select().where(jobs.c.id == job_id)).mappings().first()
        return dict(row) if row else None

    def request(self, job_id: str) -> str | None:
        """The job's pending request alone: it is read between pages and batches, where the
        whole row (the project with it, a megabyte at a thousand tables) cost more than the
        page."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(jobs.c.request).where(jobs.c.id == job_id)).scalar()

    def list_jobs(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(jobs.select().order_by(jobs.c.created_at.desc())).mappings()
            return [dict(r) for r in rows]

    def update_job(self, job_id: str, **values: Any) -> None:
        with self._tx() as conn:
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(**values))

    def beat(self, job_id: str) -> None:
        """The job is alive; its current lag goes into the minute's sample for the chart."""
        now = utcnow()
        minute = now.replace(second=0, microsecond=0)
        with self._tx() as conn:
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(heartbeat_at=now))
            lag = conn.execute(
                sa.select(jobs.c.lag_seconds).where(
                    jobs.c.id == job_id, jobs.c.cdc_status == "RUNNING"
                )
            ).scalar()
            if lag is None:
                return
            bucket = (event_counts.c.job_id == job_id, event_counts.c.minute == minute)
            updated = conn.execute(
                event_counts.update()
                .where(*bucket)
                .values(
                    lag_seconds=sa.case(
                        (event_counts.c.lag_seconds >= lag, event_counts.c.lag_seconds),
                        else_=lag,
                    )
                )
            ).rowcount
            if not updated:
                conn.execute(
                    event_counts.insert().values(
                        job_id=job_id, minute=minute, events=0, lag_seconds=lag
                    )
                )

    def history(self, job_id: str, since: dt.datetime) -> list[dict[str, Any]]:
        """Events applied and the highest lag per minute since `since`, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(event_counts.c.minute, event_counts.c.events, event_counts.c.lag_seconds)
                .where(event_counts.c.job_id == job_id, event_counts.c.minute >= since)
                .order_by(event_counts.c.minute)
            ).mappings()
            return [{**r, "minute": aware(r["minute"])} for r in rows]

    def fail(self, job_id: str, reason: str, at: dt.datetime | None = None) -> None:
        at = at or utcnow()
        self.update_job(
            job_id,
            status="FAILED",
            failure=reason,
            failure_kind="error",
            failed_at=at,
            ended_at=at,
        )

    # --- lifecycle steps ----------------------------------------------------------------------

    def record_step(self, job_id: str, step: str, **job_values: Any) -> None:
        """Record that `step` is done, with the job columns it sets, in one transaction."""
        with self._tx() as conn:
            done = conn.execute(
                sa.select(job_steps.c.step).where(
                    job_steps.c.job_id == job_id, job_steps.c.step == step
                )
            ).first()
            if done is None:
                conn.execute(job_steps.insert().values(job_id=job_id, step=step, at=utcnow()))
            if job_values:
                conn.execute(jobs.update().where(jobs.c.id == job_id).values(**job_values))

    def steps(self, job_id: str) -> dict[str, dt.datetime]:
        """The job's completed steps and when each completed."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(job_steps.c.step, job_steps.c.at)
                .where(job_steps.c.job_id == job_id)
                .order_by(job_steps.c.at)
            ).all()
        return {step: aware(at) for step, at in rows}

    # --- what the target must hold ------------------------------------------------------------

    def adjust_floor(self, job_id: str, collection: str, documents: int) -> None:
        """Add `documents` (negative: subtract) to a collection's floor, never below zero."""
        with self._tx() as conn:
            self._adjust_floor(conn, job_id, collection, documents)

    def clear_floor(self, job_id: str, collection: str) -> None:
        """A collection that is about to be emptied (a TRUNCATE) must hold nothing."""
        with self._tx() as conn:
            conn.execute(
                target_floors.delete().where(
                    target_floors.c.job_id == job_id, target_floors.c.collection == collection
                )
            )

    def floors(self, job_id: str) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(target_floors.c.collection, target_floors.c.documents).where(
                    target_floors.c.job_id == job_id
                )
            ).all()
        return {c: int(n) for c, n in rows}

    @staticmethod
    def _adjust_floor(conn: sa.Connection, job_id: str, collection: str, documents: int) -> None:
        where = (target_floors.c.job_id == job_id, target_floors.c.collection == collection)
        new = sa.case(
            (target_floors.c.documents + documents < 0, 0),
            else_=target_floors.c.documents + documents,
        )
        if not conn.execute(target_floors.update().where(*where).values(documents=new)).rowcount:
            conn.execute(
                target_floors.insert().values(
                    job_id=job_id, collection=collection, documents=max(documents, 0)
                )
            )

    def mark_stale(
        self, stale_after: dt.timedelta, now: dt.datetime | None = None, dead: list[str] = ()
    ) -> list[str]:
        """Jobs whose process died (`dead`, or a heartbeat older than `stale_after`) fail.

        The failure time is the last heartbeat, so the recovery window counts from when the
        job really stopped, not from when someone noticed.
        """
        now = now or utcnow()
        found = []
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(jobs.c.id, jobs.c.heartbeat_at).where(
                    jobs.c.status.in_(("RUNNING", "CANCELLING"))
                )
            ).all()
            for job_id, beat in rows:
                if beat is None:
                    continue
                if job_id in dead or aware(beat) < now - stale_after:
                    conn.execute(
                        jobs.update()
                        .where(jobs.c.id == job_id)
                        .values(
                            status="FAILED",
                            cdc_status=sa.case(
                                (jobs.c.cdc_status == "RUNNING", "FAILED"),
                                else_=jobs.c.cdc_status,
                            ),
                            failure=f"{STOPPED_UNEXPECTEDLY} (no heartbeat since "
                            f"{aware(beat):%Y-%m-%d %H:%M:%S} UTC)",
                            failure_kind="stopped",
                            failed_at=aware(beat),
                            ended_at=aware(beat),
                        )
                    )
                    found.append(job_id)
        return found

    # --- CDC position and statistics ----------------------------------------------------------

    def save_position(
        self, job_id: str, position: str, events: int, last_event_at: dt.datetime | None
    ) -> None:
        """Record that every change up to `position` is durably in the target."""
        now = utcnow()
        minute = now.replace(second=0, microsecond=0)
        with self._tx() as conn:
            values: dict[str, Any] = {
                "position": position,
                "heartbeat_at": now,
                "events_total": jobs.c.events_total + events,
            }
            if last_event_at is not None:
                values["last_event_at"] = last_event_at
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(**values))
            if events:
                updated = conn.execute(
                    event_counts.update()
                    .where(event_counts.c.job_id == job_id, event_counts.c.minute == minute)
                    .values(events=event_counts.c.events + events)
                ).rowcount
                if not updated:
                    conn.execute(
                        event_counts.insert().values(job_id=job_id, minute=minute, events=events)
                    )

    def events_since(self, job_id: str, since: dt.datetime) -> int:
        with self.engine.connect() as conn:
            total = conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(event_counts.c.events), 0)).where(
                    event_counts.c.job_id == job_id, event_counts.c.minute >= since
                )
            ).scalar_one()
        return int(total)

    # --- conditions: links failing right now ---------------------------------------------------

    def raise_condition(
        self,
        job_id: str,
        link: str,
        error: str,
        retry_at: dt.datetime | None = None,
        attempts: int | None = None,
        since: dt.datetime | None = None,
    ) -> None:
        """Record that `link` is failing; a condition already raised keeps its `since`."""
        now = utcnow()
        values: dict[str, Any] = {"last_error": error, "retry_at": retry_at, "updated_at": now}
        if attempts is not None:
            values["attempts"] = attempts
        with self._tx() as conn:
            where = (job_conditions.c.job_id == job_id, job_conditions.c.link == link)
            if not conn.execute(job_conditions.update().where(*where).values(**values)).rowcount:
                conn.execute(
                    job_conditions.insert().values(
                        job_id=job_id,
                        link=link,
                        since=since or now,
                        **{"attempts": 0, **values},
                    )
                )

    def clear_conditions(self, job_id: str, keep: set[str] | frozenset[str] = frozenset()) -> None:
        """The links not in `keep` work (again)."""
        with self._tx() as conn:
            conn.execute(
                job_conditions.delete().where(
                    job_conditions.c.job_id == job_id, job_conditions.c.link.not_in(keep)
                )
            )

    def conditions_of(self, job_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                job_conditions.select()
                .where(job_conditions.c.job_id == job_id)
                .order_by(job_conditions.c.since)
            ).mappings()
            return [
                {
                    **r,
                    **{k: aware(r[k]) for k in ("since", "retry_at", "updated_at") if r[k]},
                }
                for r in rows
            ]

    # --- Kafka mode: tasks and partitions -----------------------------------------------------

    def report_task(self, job_id: str, task: str, **values: Any) -> None:
        """Create or update a task's row (tasks and the supervisor write different columns)."""
        with self._tx() as conn:
            where = (kafka_tasks.c.job_id == job_id, kafka_tasks.c.task == task)
            if not conn.execute(kafka_tasks.update().where(*where).values(**values)).rowcount:
                defaults = {"events_total": 0, "restarts": 0}
                conn.execute(
                    kafka_tasks.insert().values(job_id=job_id, task=task, **{**defaults, **values})
                )

    def kafka_tasks_of(self, job_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                kafka_tasks.select()
                .where(kafka_tasks.c.job_id == job_id)
                .order_by(kafka_tasks.c.task)
            ).mappings()
            return [dict(r) for r in rows]

    def save_partitions(self, job_id: str, rows: list[dict[str, Any]]) -> None:
        """Replace the job's per-partition consumer lag with a fresh measurement."""
        now = utcnow()
        with self._tx() as conn:
            conn.execute(kafka_partitions.delete().where(kafka_partitions.c.job_id == job_id))
            if rows:
                conn.execute(
                    kafka_partitions.insert(),
                    [{"job_id": job_id, "updated_at": now, **r} for r in rows],
                )

    def partitions_of(self, job_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                kafka_partitions.select()
                .where(kafka_partitions.c.job_id == job_id)
                .order_by(kafka_partitions.c.partition)
            ).mappings()
            return [dict(r) for r in rows]

    # --- snapshot progress and checkpoints ----------------------------------------------------

    def start_collection(
        self, job_id: str, collection: str, table_id: str, total: int | None
    ) -> None:
        with self._tx() as conn:
            exists = conn.execute(
                sa.select(progress.c.collection).where(
                    progress.c.job_id == job_id, progress.c.collection == collection
                )
            ).first()
            if exists is None:
                conn.execute(_new_progress(job_id, collection, table_id, total))
            else:
                conn.execute(
                    progress.update()
                    .where(progress.c.job_id == job_id, progress.c.collection == collection)
                    .values(rows_total=total)
                )

    def checkpoint(
        self,
        job_id: str,
        collection: str,
        last_key: str | None,
        rows: int,
        done: bool = False,
        written: int = 0,
    ) -> None:
        """Record that every root up to `last_key` is durably in the target, `written` of
        them as documents (the rest were refused or skipped by the error policy)."""
        with self._tx() as conn:
            if written:
                self._adjust_floor(conn, job_id, collection, written)
            conn.execute(
                progress.update()
                .where(progress.c.job_id == job_id, progress.c.collection == collection)
                .values(
                    last_key=last_key,
                    rows_done=progress.c.rows_done + rows,
                    done=done,
                    updated_at=utcnow(),
                )
            )
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(heartbeat_at=utcnow()))

    def plan_ranges(
        self, job_id: str, planned: list[tuple[str, str, int | None, list[RangeBounds]]]
    ) -> None:
        """Record every collection's ranges, `(collection, table id, rows total, bounds)`,
        with their progress rows and the SNAPSHOT_PLANNED step, in one transaction: a resume
        finds all of them or none, and never splits a table twice."""
        now = utcnow()
        with self._tx() as conn:
            for collection, table_id, total, bounds in planned:
                conn.execute(_new_progress(job_id, collection, table_id, total))
                conn.execute(
                    snapshot_ranges.insert(),
                    [
                        {
                            "job_id": job_id,
                            "collection": collection,
                            "number": number,
                            "lower": lower,
                            "upper": upper,
                            "rows_done": 0,
                            "done": False,
                            "updated_at": now,
                        }
                        for number, (lower, upper) in enumerate(bounds)
                    ],
                )
            conn.execute(job_steps.insert().values(job_id=job_id, step=SNAPSHOT_PLANNED, at=now))

    def ranges_of(self, job_id: str, collection: str | None = None) -> list[dict[str, Any]]:
        where = [snapshot_ranges.c.job_id == job_id]
        if collection is not None:
            where.append(snapshot_ranges.c.collection == collection)
        with self.engine.connect() as conn:
            rows = conn.execute(
                snapshot_ranges.select()
                .where(*where)
                .order_by(snapshot_ranges.c.collection, snapshot_ranges.c.number)
            ).mappings()
            return [dict(r) for r in rows]

    def range_checkpoint(
        self,
        job_id: str,
        collection: str,
        number: int,
        expected: str | None,
        last_key: str | None,
        rows: int,
        written: int,
        *,
        done: bool = False,
        worker: str | None = None,
    ) -> bool:
        """Move a range's checkpoint from `expected` to `last_key` (the roots up to it are in
        the target, `written` of them as documents) and count them for the collection; False,
        with nothing counted, when the range is no longer at `expected` (another process
        moved it on: each page is counted once, whoever wrote it how often)."""
        now = utcnow()
        key = snapshot_ranges.c.last_key
        with self._tx() as conn:
            moved = conn.execute(
                snapshot_ranges.update()
                .where(
                    snapshot_ranges.c.job_id == job_id,
                    snapshot_ranges.c.collection == collection,
                    snapshot_ranges.c.number == number,
                    snapshot_ranges.c.done.is_(False),
                    key.is_(None) if expected is None else key == expected,
                )
                .values(
                    last_key=last_key,
                    rows_done=snapshot_ranges.c.rows_done + rows,
                    done=done,
                    worker=worker,
                    updated_at=now,
                )
            ).rowcount
            if not moved:
                return False
            if written:
                self._adjust_floor(conn, job_id, collection, written)
            left = 1
            if done:
                left = conn.execute(
                    sa.select(sa.func.count()).where(
                        snapshot_ranges.c.job_id == job_id,
                        snapshot_ranges.c.collection == collection,
                        snapshot_ranges.c.done.is_(False),
                    )
                ).scalar_one()
            conn.execute(
                progress.update()
                .where(progress.c.job_id == job_id, progress.c.collection == collection)
                .values(rows_done=progress.c.rows_done + rows, done=left == 0, updated_at=now)
            )
        return True

    def progress_of(self, job_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                progress.select().where(progress.c.job_id == job_id).order_by(progress.c.collection)
            ).mappings()
            return [dict(r) for r in rows]

    # --- issues -------------------------------------------------------------------------------

    def add_issues(self, job_id: str, records: list[IssueRecord]) -> None:
        """Record problems; one already listed for the job counts as another occurrence."""
        if not records:
            return
        now = utcnow()
        batch: dict[str, dict[str, Any]] = {}
        repeats: dict[str, int] = {}
        for r in records:
            values = {k: getattr(r, k) for k in r.__slots__}
            mark = _fingerprint(values)
            repeats[mark] = repeats.get(mark, 0) + 1
            batch.setdefault(mark, values)
        with self._tx() as conn:
            known: set[str] = set()
            marks = list(batch)
            for start in range(0, len(marks), 500):
                known.update(
                    conn.execute(
                        sa.select(issues.c.fingerprint).where(
                            issues.c.job_id == job_id,
                            issues.c.fingerprint.in_(marks[start : start + 500]),
                        )
                    ).scalars()
                )
            for mark in known:
                conn.execute(
                    issues.update()
                    .where(issues.c.job_id == job_id, issues.c.fingerprint == mark)
                    .values(occurrences=issues.c.occurrences + repeats[mark], last_at=now)
                )
            new = [
                {
                    "job_id": job_id,
                    "at": now,
                    "last_at": now,
                    "occurrences": repeats[mark],
                    "fingerprint": mark,
                    **values,
                }
                for mark, values in batch.items()
                if mark not in known
            ]
            if new:
                conn.execute(issues.insert(), new)
                conn.execute(
                    jobs.update()
                    .where(jobs.c.id == job_id)
                    .values(error_count=jobs.c.error_count + len(new))
                )

    def issue_totals(self, job_id: str) -> dict[str, int]:
        """Occurrences of problems per severity, repeats included (what /metrics counts)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(issues.c.severity, sa.func.sum(issues.c.occurrences))
                .where(issues.c.job_id == job_id)
                .group_by(issues.c.severity)
            ).all()
        return {severity: int(n) for severity, n in rows}

    def issue_count(self, job_id: str) -> int:
        """Every problem recorded for the job, repeats included."""
        return sum(self.issue_totals(job_id).values())

    def retries_of(self, job_id: str) -> int:
        """Reconnect attempts of the embedded engine: each records a WARNING ending in
        "retry in Ns" (relmig.transport.embedded)."""
        with self.engine.connect() as conn:
            total = conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(issues.c.occurrences), 0)).where(
                    issues.c.job_id == job_id,
                    issues.c.severity == "WARNING",
                    issues.c.detail.like("%; retry in %s"),
                )
            ).scalar_one()
        return int(total)

    def issues_of(self, job_id: str, limit: int = 1000) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                issues.select().where(issues.c.job_id == job_id).order_by(issues.c.id).limit(limit)
            ).mappings()
            return [dict(r) for r in rows]


def _fingerprint(values: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


def aware(value: dt.datetime) -> dt.datetime:
    """SQLite returns naive datetimes; every time we store is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the CLI and a server read while a job writes; FULL sync makes a checkpoint durable.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _new_progress(job_id: str, collection: str, table_id: str, total: int | None) -> Any:
    """A collection's progress row before its first page."""
    return progress.insert().values(
        job_id=job_id,
        collection=collection,
        table_id=table_id,
        rows_total=total,
        rows_done=0,
        done=False,
        updated_at=utcnow(),
    )
