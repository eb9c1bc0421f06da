"""Running a job in the foreground: progress bars, Ctrl-C, and how a failure is reported."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer
from rich.progress import (
    BarColumn,
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
from relmig.runtime.stopping import STOP_TIMEOUT as STOP_SECONDS
from relmig.runtime.stopping import pause_on_signals

if TYPE_CHECKING:
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


class CountColumn(ProgressColumn):
    """Rows done of rows expected, and the share; nothing for the summary line (no total)."""

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        return Text(f"{int(task.completed):,}/{int(task.total):,} {task.percentage:>5.1f}%")


def progress_bars() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        CountColumn(),
        RateColumn(),
        TimeRemainingColumn(),
        console=console,
    )


class CollectionBars:
    """A bar per collection being copied, and one summary line; a finished collection leaves
    the display for the summary (`relmig jobs show` lists them all). So an update, and each
    redraw, costs the same whatever the number of collections: with one bar per collection a
    snapshot of a thousand small tables spent most of its time redrawing bars."""

    def __init__(self, bars: Progress) -> None:
        self.bars = bars
        self.active: dict[str, TaskID] = {}
        self.finished = 0
        self.rows = 0
        self.summary = bars.add_task("", total=None)
        self._describe()

    def _describe(self) -> None:
        self.bars.update(
            self.summary,
            description=f"{self.finished:,} collection(s) copied, {self.rows:,} rows",
        )

    def update(self, name: str, done: int, total: int | None, finished: bool) -> None:
        task = self.active.get(name)
        if finished:
            if task is not None:
                self.bars.remove_task(task)
                del self.active[name]
            self.finished += 1
            self.rows += done
            self._describe()
            return
        if task is None:
            task = self.active[name] = self.bars.add_task(name, total=total)
        self.bars.update(task, completed=done, total=max(total or 0, done) or None)


STOP_TIMEOUT = typer.Option(
    STOP_SECONDS,
    "--stop-timeout",
    min=1,
    help="Seconds a SIGTERM or Ctrl-C gives the job to pause cleanly before it is stopped.",
)


def run_with_progress(
    manager: JobManager,
    job_id: str,
    call: Callable[[ProgressCallback], str],
    stop_timeout: float = STOP_SECONDS,
) -> dict[str, Any]:
    """Run `call` (which runs the job) with its progress (CollectionBars); the job's final
    description.

    SIGTERM and Ctrl-C pause the job (relmig.runtime.stopping). A FAILED job becomes a
    RelmigError that says why and whether it can be resumed.
    """
    with progress_bars() as bars, pause_on_signals(manager.store, lambda: [job_id], stop_timeout):
        status = call(CollectionBars(bars).update)
    job = manager.describe(job_id)
    if status == "PAUSED":
        why = f" ({job['stop_reason']})" if job.get("stop_reason") else ""
        console.print(
            f"Job [bold]{job_id}[/] paused{why}; continue it with: relmig jobs resume {job_id}",
            highlight=False,
        )
    if status == "FAILED":
        hint = f"; resume it with: relmig jobs resume {job_id}" if job["resumable"] else ""
        raise RelmigError(f"job {job_id} failed: {job['failure']}{hint}")
    return job
