"""`relmig jobs update`: a new version of a running job's project, shown as a plan first."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from relmig.cli.common import console, source_password, user_errors
from relmig.cli.job_cmds import jobs_app, resolve_job
from relmig.cli.output import AS_JSON, emit_json
from relmig.errors import RelmigError

# Imported by the command itself (relmig.cli.common says why).
if TYPE_CHECKING:
    from relmig.runtime.jobs import JobManager

TAKEN_WITHIN = 60.0  # seconds a running job has to take the update before we stop waiting


@jobs_app.command("update")
@user_errors
def jobs_update(
    job_id: str = typer.Argument(..., help="Job id, or the start of one."),
    project_file: Path = typer.Argument(..., help="The new version of the job's project."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Apply the plan without asking."),
    as_json: bool = AS_JSON,
) -> None:
    """Change a continuous job's mapping while CDC goes on: the plan first, then only the
    collections it changes are copied again (in the background) or dropped."""
    from relmig.project.file import load_project
    from relmig.runtime.jobs import JobManager
    from relmig.runtime.store import StateStore

    manager = JobManager(StateStore())
    job_id = resolve_job(manager.store, job_id)
    project = load_project(project_file)
    password = source_password(project.source)
    plan = manager.update(job_id, project, password, apply=False)
    if not as_json:
        console.print(f"Plan for job [bold]{job_id}[/]:")
        for line in plan.lines():
            console.print(f"  {line}", highlight=False, markup=False)
    if not yes and as_json:
        emit_json({"job": job_id, "plan": plan.as_dict(), "applied": False})
        return
    if not yes:
        if not sys.stdin.isatty():
            raise RelmigError("nothing applied: confirm the plan with --yes (no terminal to ask)")
        if not typer.confirm("Apply this plan?"):
            console.print("Nothing changed.")
            return
    manager.update(job_id, project, password)
    status = _taken(manager, job_id)
    if as_json:
        emit_json({"job": job_id, "plan": plan.as_dict(), "applied": True, "status": status})
        return
    copied = plan.names("rebuild") + plan.names("add")
    work = f"copying {', '.join(copied)} in the background" if copied else "nothing to copy"
    if status == "RUNNING":
        console.print(
            f"Job {job_id} took the new mapping: {work} while CDC goes on; "
            f"relmig jobs show {job_id} follows it.",
            highlight=False,
        )
    elif status == "WAITING":
        console.print(
            f"Job {job_id} has not taken the new mapping yet; it does at its next batch.",
            highlight=False,
        )
    else:
        console.print(
            f"Job {job_id} has the new mapping and is {status}: relmig jobs resume {job_id} "
            f"continues it ({work}).",
            highlight=False,
        )


def _taken(manager: JobManager, job_id: str) -> str:
    """The job's status once it took the update; WAITING if its process has not yet."""
    deadline = time.monotonic() + TAKEN_WITHIN
    while (job := manager.job(job_id))["request"] == "UPDATE":
        if time.monotonic() > deadline or job["status"] not in ("RUNNING", "CANCELLING"):
            return "WAITING"
        time.sleep(0.2)
    return str(job["status"])
