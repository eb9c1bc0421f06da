"""Jobs: their rows, the steps of their life, their failure, and where their CDC stands.

Lifecycle decisions read the recorded steps (`job_steps`), never a counter; a job whose process
died is failed by `mark_stale` as of its last heartbeat. The CDC position is saved with the
minute's event count, which the chart and the job's status read back.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import sqlalchemy as sa

from relmig.runtime.records.base import Records
from relmig.runtime.records.tables import (
    STOPPED_UNEXPECTEDLY,
    aware,
    event_counts,
    job_steps,
    jobs,
    utcnow,
)


def current_slot_lag(job: dict[str, Any]) -> int | None:
    """The slot lag the job recorded, while it is current: the running job measures it; a
    stopped job's last figure is stale (a paused job's backlog is measured when asked), and a
    dropped slot retains nothing."""
    running = job["status"] == "RUNNING" and not job["slot_dropped"]
    return job["slot_lag_bytes"] if running else None


class JobRecords(Records):
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

    def save_position(
        self,
        job_id: str,
        position: str,
        events: int,
        last_event_at: dt.datetime | None,
        **statistics: Any,
    ) -> None:
        """Record that every change up to `position` is durably in the target (with the job's
        `statistics`, such as its lag, in the same transaction)."""
        now = utcnow()
        minute = now.replace(second=0, microsecond=0)
        with self._tx() as conn:
            values: dict[str, Any] = {
                **statistics,
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
