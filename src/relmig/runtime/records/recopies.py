"""A running job's mapping change: the new project, and the collections it copies again.

The new project, its re-copies and drops, and the end of the drift the old project met are one
transaction, so a job resumed after a crash has either the old mapping or the new one with all
of its work recorded. A collection swapped in gets the floor of what it holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from relmig.runtime.records.base import Records
from relmig.runtime.records.tables import (
    job_drift,
    job_recopies,
    jobs,
    target_floors,
    utcnow,
)

COPYING, COPIED, DONE = "COPYING", "COPIED", "DONE"


class RecopyRecords(Records):
    def request_update(self, job_id: str, project_doc: dict[str, Any]) -> None:
        """For the job's running process, which takes it between two batches."""
        with self._tx() as conn:
            conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id)
                .values(update_doc=project_doc, request="UPDATE")
            )

    def record_update(
        self,
        job_id: str,
        project_doc: dict[str, Any],
        copies: Sequence[tuple[str, str, str, int | None]],
        drops: Sequence[str],
    ) -> None:
        """The job's project becomes `project_doc`; `copies` are (collection, shadow, root
        table, rows expected) and `drops` the collections to remove. The drift found against
        the old project is cleared: the stream checks the new one when it starts."""
        now = utcnow()
        with self._tx() as conn:
            conn.execute(job_recopies.delete().where(job_recopies.c.job_id == job_id))
            conn.execute(job_drift.delete().where(job_drift.c.job_id == job_id))
            rows = [
                {
                    "job_id": job_id,
                    "collection": name,
                    "action": "copy",
                    "shadow": shadow,
                    "table_id": table_id,
                    "state": COPYING,
                    "rows_done": 0,
                    "rows_total": total,
                    "updated_at": now,
                }
                for name, shadow, table_id, total in copies
            ] + [
                {
                    "job_id": job_id,
                    "collection": name,
                    "action": "drop",
                    "shadow": None,
                    "table_id": None,
                    "state": COPYING,
                    "rows_done": 0,
                    "rows_total": None,
                    "updated_at": now,
                }
                for name in drops
            ]
            if rows:
                conn.execute(job_recopies.insert(), rows)
            conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id)
                .values(project_doc=project_doc, update_doc=None, request=None)
            )

    def recopies_of(self, job_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                job_recopies.select()
                .where(job_recopies.c.job_id == job_id)
                .order_by(job_recopies.c.collection)
            ).mappings()
            return [dict(r) for r in rows]

    def recopy_checkpoint(
        self,
        job_id: str,
        collection: str,
        last_key: str | None,
        rows: int,
        copied: bool,
    ) -> None:
        """Every root up to `last_key` is in the shadow; `copied`: the last of them. (The
        shadow's floor is its count when it is swapped in: CDC writes to it too, so the chunks'
        documents are no count of it.)"""
        with self._tx() as conn:
            conn.execute(
                job_recopies.update()
                .where(job_recopies.c.job_id == job_id, job_recopies.c.collection == collection)
                .values(
                    last_key=last_key,
                    rows_done=job_recopies.c.rows_done + rows,
                    state=COPIED if copied else COPYING,
                    updated_at=utcnow(),
                )
            )
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(heartbeat_at=utcnow()))

    def recopy_done(
        self, job_id: str, collection: str, shadow: str | None, documents: int = 0
    ) -> None:
        """The shadow is now `collection`, holding `documents`, or a dropped collection is
        gone: the floors say so."""
        with self._tx() as conn:
            conn.execute(
                target_floors.delete().where(
                    target_floors.c.job_id == job_id,
                    target_floors.c.collection.in_([collection, shadow or collection]),
                )
            )
            if shadow is not None:
                conn.execute(
                    target_floors.insert().values(
                        job_id=job_id, collection=collection, documents=documents
                    )
                )
            conn.execute(
                job_recopies.update()
                .where(job_recopies.c.job_id == job_id, job_recopies.c.collection == collection)
                .values(state=DONE, updated_at=utcnow())
            )


def pending(recopies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in recopies if r["state"] != DONE]
