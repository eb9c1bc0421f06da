"""The Issues list: problems a job met, each listed once and counted as often as it recurs.

A repeat (a resumed page, a CDC replay) is found by its fingerprint, an index lookup, so a job
that records hundreds of thousands of issues does not scan them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from relmig.runtime.records.base import Records
from relmig.runtime.records.tables import issues, jobs, utcnow

# The end of a retried fault's detail: no delay in it, so that repeats count as one row.
RETRIED = "; retried from the checkpoint"


@dataclass(slots=True)
class IssueRecord:
    severity: str
    collection: str | None
    table_id: str | None
    key: str | None
    field: str | None
    detail: str


class IssueRecords(Records):
    def add_issues(self, job_id: str, records: list[IssueRecord]) -> None:
        """Record problems; one already listed for the job counts as another occurrence."""
        if not records:
            return
        now = utcnow()
        batch: dict[str, dict[str, Any]] = {}
        repeats: dict[str, int] = {}
        for r in records:
            values = {k: getattr(r, k) for k in r.__slots__}
            # The same problem met under another error policy (a job resumed with WARN after
            # FAIL) is still one problem: listed once, with the severity it has now.
            mark = _fingerprint({k: v for k, v in values.items() if k != "severity"})
            repeats[mark] = repeats.get(mark, 0) + 1
            batch[mark] = values
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
                    .values(
                        occurrences=issues.c.occurrences + repeats[mark],
                        last_at=now,
                        severity=batch[mark]["severity"],
                    )
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
        """Reconnect attempts: each records a WARNING ending in RETRIED (relmig.runtime.retry),
        the same fault one row however often it is retried."""
        with self.engine.connect() as conn:
            total = conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(issues.c.occurrences), 0)).where(
                    issues.c.job_id == job_id,
                    issues.c.severity == "WARNING",
                    issues.c.detail.like(f"%{RETRIED}"),
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
