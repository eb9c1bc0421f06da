"""Running a job in the foreground: progress bars, Ctrl-C, and how a failure is reported."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from relmig.cli.common import console
from relmig.errors import RelmigError
from relmig.runtime.jobs import JobManager, ProgressCallback


def check_on_error(value: str) -> str:
    value = value.upper()
    if value not in ("FAIL", "WARN", "SKIP"):
        raise RelmigError(f"--on-error must be FAIL, WARN or SKIP, not {value!r}")
    return value


class RateColumn(ProgressColumn):
    """Rows per second, as rich measures it over the recent updates."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.0f} rows/s" if task.speed else "", style="cyan")


def progress_bars() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        RateColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def run_with_progress(
    manager: JobManager, job_id: str, call: Callable[[ProgressCallback], str]
) -> dict[str, Any]:
    """Run `call` (which runs the job) with a bar per collection; the job's final description.

    A FAILED job becomes a RelmigError that says why and whether it can be resumed.
    """
    with progress_bars() as bars:
        tasks: dict[str, TaskID] = {}

        def on_progress(name: str, done: int, total: int | None) -> None:
            if name not in tasks:
                tasks[name] = bars.add_task(name, total=total)
            bars.update(tasks[name], completed=done, total=max(total or 0, done) or None)

        try:
            status = call(on_progress)
        except KeyboardInterrupt:
            manager.store.fail(job_id, "interrupted by the user")
            raise RelmigError(
                f"job {job_id} interrupted; continue it with: relmig jobs resume {job_id}"
            ) from None
    job = manager.describe(job_id)
    if status == "FAILED":
        hint = f"; resume it with: relmig jobs resume {job_id}" if job["resumable"] else ""
        raise RelmigError(f"job {job_id} failed: {job['failure']}{hint}")
    return job
