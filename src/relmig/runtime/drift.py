"""What a job does about schema drift at its source.

Additive drift (a new column) is recorded while the job goes on. Breaking drift (`SchemaChanged`:
a mapped column or table gone, a type changed) pauses the job where the stream met it, with the
drift recorded: a paused job keeps its slot, and its recovery window counts from the first
breaking drift recorded, as a failed job's counts from its failure.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

from relmig.errors import RelmigError, SchemaChanged
from relmig.project.model import Project
from relmig.runtime.store import StateStore
from relmig.source.capture import mapped_tables
from relmig.source.drift import current_drift


def pause_for_drift(
    store: StateStore, job_id: str, exc: SchemaChanged, at: dt.datetime, password: str | None
) -> None:
    """Pause the job with its drift recorded. A query that found a mapped column gone carries
    no drift of its own: the source's catalog says what changed."""
    drifts = exc.drifts
    if not drifts:
        project = Project.model_validate(store.job(job_id)["project_doc"])
        with contextlib.suppress(RelmigError):  # the pause and its reason come first
            drifts = [
                d
                for d in current_drift(project, password, [t.id for t in mapped_tables(project)])
                if d.breaking
            ]
    store.record_drift(job_id, drifts, at)
    store.update_job(job_id, status="PAUSED", request=None, stop_reason=str(exc))
    if store.job(job_id)["stage"] == "CDC":
        store.update_job(job_id, cdc_status="PAUSED")


def drift_paused_since(store: StateStore, job_id: str) -> dt.datetime | None:
    """When breaking drift first paused the job (None: it never did)."""
    times = [d["first_seen"] for d in store.drift_of(job_id) if d["breaking"]]
    return min(times) if times else None


def drift_entries(store: StateStore, job_id: str) -> list[dict[str, Any]]:
    """The job's drift for `jobs show`, the API and the job page, worded for the user."""
    return [
        {
            "table": d["table_id"],
            "kind": d["kind"],
            "column": d["column"],
            "breaking": d["breaking"],
            "since": d["first_seen"],
            "text": d["text"],
        }
        for d in store.drift_of(job_id)
    ]
