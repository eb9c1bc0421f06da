"""A new version of a running job's project (`relmig jobs update`, the API, the job page).

The plan (relmig.project.update_plan) says what changes; taking it records the new project
with the collections to copy again and to drop, in one transaction. The job's process takes it
between two batches (a job nothing runs, at once), and the copies then run in the background
of CDC (relmig.runtime.recopy). Every way in passes the same checks: the project validator
before, the job's state and the source's prerequisites here and in JobManager.update.
"""

from __future__ import annotations

from typing import Any

from relmig.failpoints import crash_point
from relmig.project.model import Project
from relmig.project.update_plan import UpdatePlan, plan_update
from relmig.runtime.recopy import shadow_of
from relmig.runtime.records.recopies import pending
from relmig.runtime.records.tables import CAPTURE_STARTED
from relmig.runtime.store import StateStore
from relmig.source.capture import open_capture
from relmig.source.sql import SqlSource

UPDATABLE = ("RUNNING", "PAUSED", "FAILED")


def job_refusal(store: StateStore, job: dict[str, Any]) -> str | None:
    """Why this job cannot take a new mapping now, or None."""
    name = f"job {job['id']}"
    if job["mode"] == "snapshot":
        return f"{name} is a snapshot job; only a continuous or cdc-only job streams on"
    if job["status"] not in UPDATABLE:
        return f"{name} is {job['status']}; only a running, paused or failed job can be updated"
    if job["stage"] != "CDC" or CAPTURE_STARTED not in store.steps(job["id"]):
        return f"{name} is still in its snapshot; update it once it streams (stage CDC)"
    if job["request"] == "UPDATE":
        return f"{name} has not taken the previous update yet"
    busy = [r["collection"] for r in pending(store.recopies_of(job["id"]))]
    if busy:
        return f"{name} is still applying its previous update ({', '.join(busy)}); wait for it"
    return None


def take_update(
    store: StateStore, job_id: str, new: Project, source: SqlSource, password: str | None
) -> UpdatePlan:
    """Record `new` as the job's project with the work its plan needs. The source publishes
    the new project's tables first (relmig's own publication): a chunk read after this sees
    every earlier change to them, and the stream carries every later one."""
    old = Project.model_validate(store.job(job_id)["project_doc"])
    plan = plan_update(old, new)
    capture = open_capture(new, job_id, password)
    try:
        capture.cover()
    finally:
        capture.close()
    copied = [new.collection(n) for n in (*plan.names("rebuild"), *plan.names("add"))]
    estimates = source.estimate_rows([new.table(c.table) for c in copied])
    store.record_update(
        job_id,
        new.model_dump(mode="json", by_alias=True),
        [(c.name, shadow_of(c.name), c.table, estimates.get(c.table)) for c in copied],
        plan.names("drop"),
    )
    crash_point("update-recorded")
    return plan


def update_progress(store: StateStore, job_id: str) -> list[dict[str, Any]]:
    """The last update's collections, for `jobs show`, the API and the job page."""
    return [
        {
            "collection": r["collection"],
            "action": r["action"],
            "state": r["state"],
            "rows_done": r["rows_done"],
            "rows_total": r["rows_total"],
        }
        for r in store.recopies_of(job_id)
    ]
