"""Conditions: the links of a job failing right now (relmig.links).

Unlike an issue, a condition lasts only while the fault does: the embedded engine's retry loop
and the Kafka supervisor raise it, and clear it once the link works again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from relmig.runtime.records.base import Records
from relmig.runtime.records.tables import aware, job_conditions, utcnow


class ConditionRecords(Records):
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
