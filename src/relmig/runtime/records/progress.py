"""Snapshot progress: each collection's checkpoint, a parallel snapshot's key ranges, and
what the target must hold.

A checkpoint, the collection's floor (the least number of documents the target must hold) and
the job's heartbeat move in one transaction, so a resume never counts a page twice nor trusts a
target that lost documents.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from relmig.runtime.records.base import Records
from relmig.runtime.records.tables import (
    SNAPSHOT_PLANNED,
    job_steps,
    jobs,
    progress,
    snapshot_ranges,
    target_floors,
    utcnow,
)

# A key range as the store keeps it: (lower exclusive, upper inclusive), dumped keys or None.
RangeBounds = tuple[str | None, str | None]


class ProgressRecords(Records):
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
