"""Schema drift: what a running job found changed at its source since its project was made.

Recorded once per table, kind and column (seen again: only `last_seen` moves), so a stream that
meets the same DDL after every restart does not repeat it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from relmig.runtime.records.base import Records
from relmig.runtime.records.tables import aware, job_drift
from relmig.source.drift import Drift


class DriftRecords(Records):
    def record_drift(self, job_id: str, drifts: Iterable[Drift], at: dt.datetime) -> None:
        with self._tx() as conn:
            for d in drifts:
                key = (
                    job_drift.c.job_id == job_id,
                    job_drift.c.table_id == d.table,
                    job_drift.c.kind == d.kind,
                    job_drift.c.column == (d.column or ""),
                )
                seen = job_drift.update().where(*key).values(last_seen=at, text=d.text())
                if not conn.execute(seen).rowcount:
                    conn.execute(
                        job_drift.insert().values(
                            job_id=job_id,
                            table_id=d.table,
                            kind=d.kind,
                            column=d.column or "",
                            breaking=d.breaking,
                            text=d.text(),
                            first_seen=at,
                            last_seen=at,
                        )
                    )

    def drift_of(self, job_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                job_drift.select()
                .where(job_drift.c.job_id == job_id)
                .order_by(job_drift.c.first_seen, job_drift.c.table_id, job_drift.c.column)
            ).mappings()
            return [
                {
                    **r,
                    "column": r["column"] or None,
                    "first_seen": aware(r["first_seen"]),
                    "last_seen": aware(r["last_seen"]),
                }
                for r in rows
            ]
