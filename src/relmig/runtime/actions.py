"""Which controls apply to a job now, so the UI shows only buttons that would work."""

from __future__ import annotations

from typing import Any

ENDED = ("COMPLETED", "CANCELLED")


def actions(job: dict[str, Any]) -> list[str]:
    """Of pause, resume, cancel, complete and update, those the job's state allows (a described
    job: JobManager.describe). While a request is pending only cancel remains."""
    status, continuous = job["status"], job["mode"] != "snapshot"
    if status in ENDED or status == "CANCELLING":
        return []
    if job.get("pending_request"):
        return ["cancel"]
    out = []
    if status == "RUNNING" and continuous:
        out.append("pause")
    resumable = bool(job.get("resumable")) and status in ("PAUSED", "FAILED")
    if resumable:
        out.append("resume")
    out.append("cancel")
    # Complete CDC drains the stream to a cutover: it needs a job that runs or can run again,
    # and a failed job only if its CDC had started (else there is nothing to cut over).
    if continuous and (
        status in ("RUNNING", "PAUSED")
        or (resumable and job.get("cdc_status") not in (None, "NOT_STARTED"))
    ):
        out.append("complete")
    # A new mapping for a streaming job (relmig.runtime.mapping_update says when one can).
    idle = not any(u["state"] != "DONE" for u in job.get("update") or [])
    streams = status in ("RUNNING", "PAUSED") or resumable
    if continuous and job.get("stage") == "CDC" and idle and streams:
        out.append("update")
    return out
