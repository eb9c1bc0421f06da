"""Commands that run jobs against a target and report on them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.table import Table as RichTable

from relmig.cli.common import (
    connected_source,
    connected_target,
    console,
    err_console,
    source_password,
    target_uri,
    user_errors,
)
from relmig.cli.kafka_cmds import print_kafka
from relmig.cli.running import check_on_error, run_with_progress
from relmig.mongo.names import database_name_for
from relmig.project.file import load_project
from relmig.runtime.jobs import JobManager, JobOptions
from relmig.runtime.store import StateStore
from relmig.verify.compare import VerifyReport, verify

TARGET_HELP = "MongoDB URI (default: $RELMIG_TARGET_URI)."


def _collections(value: list[str] | None) -> list[str] | None:
    return list(value) if value else None


@user_errors
def snapshot(
    project_file: Path = typer.Argument(..., help="Project file."),
    target: str = typer.Option(None, "--target", "-t", help=TARGET_HELP),
    database: str = typer.Option(
        None, "--database", "-d", help="Target database (default: the project name)."
    ),
    drop: bool = typer.Option(False, "--drop", help="Drop the destination collections first."),
    on_error: str = typer.Option("FAIL", "--on-error", help="FAIL, WARN or SKIP."),
    max_errors: int = typer.Option(None, "--max-errors", help="Stop after this many errors."),
    verify_after: bool = typer.Option(False, "--verify", help="Verify the target afterwards."),
    batch_size: int = typer.Option(1000, "--batch-size", min=1, help="Root rows per batch."),
    collection: list[str] = typer.Option(
        None, "--collection", "-c", help="Only these collections."
    ),
    resume: str = typer.Option(
        None, "--resume", help="Resume this snapshot job from its checkpoints."
    ),
) -> None:
    """Copy the source into MongoDB with the project's mapping (a snapshot job)."""
    on_error = check_on_error(on_error)
    project = load_project(project_file)
    uri = target_uri(target)
    password = source_password(project.source)
    db_name = database or database_name_for(project.name)
    manager = JobManager(StateStore())
    with connected_target(uri, db_name) as tgt:
        if tgt.decimals != "decimal128":
            console.print(
                f"note: this target cannot store Decimal128; exact numbers are stored as "
                f"{tgt.decimals}s."
            )
    started = time.monotonic()
    if resume:
        job_id = resume
        run = lambda cb: manager.resume(  # noqa: E731 - the two ways in differ by one call
            job_id, uri, password, foreground=True, on_progress=cb
        )
    else:
        options = JobOptions(
            mode="snapshot",
            drop=drop,
            on_error=on_error,  # type: ignore[arg-type]
            max_errors=max_errors,
            batch_size=batch_size,
            collections=list(collection) if collection else None,
        )
        job_id = manager.create(project, uri, db_name, options, password)
        run = lambda cb: manager.run(job_id, uri, password, cb)  # noqa: E731
    run_with_progress(manager, job_id, run)
    seconds = time.monotonic() - started
    progress = manager.store.progress_of(job_id)
    rows = sum(p["rows_done"] for p in progress)
    errors = manager.job(job_id)["error_count"]
    console.print(
        f"Job [bold]{job_id}[/] COMPLETED: {rows} documents in {len(progress)} collections "
        f"in {seconds:.1f}s ({rows / max(seconds, 1e-9):.0f} rows/s), {errors} issues."
    )
    if errors:
        console.print(f"See the issues with: relmig jobs show {job_id}")
    if verify_after:
        with connected_source(project.source) as source, connected_target(uri, db_name) as tgt:
            report = verify(project, source, tgt, collections=_collections(collection))
        _print_report(report)
        if not report.ok:
            raise typer.Exit(1)


@user_errors
def verify_cmd(
    project_file: Path = typer.Argument(..., help="Project file."),
    target: str = typer.Option(None, "--target", "-t", help=TARGET_HELP),
    database: str = typer.Option(
        None, "--database", "-d", help="Target database (default: the project name)."
    ),
    collection: list[str] = typer.Option(
        None, "--collection", "-c", help="Only these collections."
    ),
    no_filters: bool = typer.Option(
        False, "--no-filters", help="Ignore the snapshot table filters."
    ),
) -> None:
    """Compare the target with a fresh snapshot computed from the source; exit 0 only if equal."""
    project = load_project(project_file)
    with (
        connected_source(project.source) as source,
        connected_target(target, database or database_name_for(project.name)) as tgt,
    ):
        report = verify(
            project, source, tgt, collections=_collections(collection), filters=not no_filters
        )
    _print_report(report)
    if not report.ok:
        raise typer.Exit(1)


def _print_report(report: VerifyReport) -> None:
    table = RichTable(title="Verification")
    columns = ("collection", "expected", "target", "missing", "extra", "diff", "issues")
    for col in (*columns, "result"):
        table.add_column(col, justify="left" if col in ("collection", "result") else "right")
    for c in report.collections:
        table.add_row(
            c.name,
            str(c.expected),
            str(c.actual),
            str(c.missing),
            str(c.extra),
            str(c.different),
            str(c.unmigratable),
            "[green]equal[/]" if c.ok else "[red]DIFFERENT[/]",
        )
    console.print(table)
    for c in report.collections:
        for d in c.examples:
            err_console.print(f"  {c.name}: {d.kind} {d.key} {d.detail}".rstrip())
    console.print(
        "[green]verify: target equals source[/]"
        if report.ok
        else "[red]verify: differences found[/]"
    )


jobs_app = typer.Typer(help="List and inspect jobs.", no_args_is_help=True)


@jobs_app.command("list")
@user_errors
def jobs_list() -> None:
    """All jobs, newest first (jobs whose process died are marked FAILED first)."""
    table = RichTable()
    for col in ("id", "project", "mode", "status", "cdc", "stage", "created", "issues"):
        table.add_column(col)
    for job in JobManager(StateStore()).list():
        table.add_row(
            job["id"],
            job["project"],
            job["mode"],
            job["status"],
            job["cdc_status"],
            job["stage"],
            f"{job['created_at']:%Y-%m-%d %H:%M:%S}",
            str(job["error_count"]),
        )
    console.print(table)


@jobs_app.command("show")
@user_errors
def jobs_show(
    job_id: str = typer.Argument(..., help="Job id."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """A job's status, progress per collection and its Issues list."""
    manager = JobManager(StateStore())
    job = manager.describe(job_id)
    progress = job.pop("progress")
    issues = manager.store.issues_of(job_id)
    if as_json:
        console.print_json(
            json.dumps({"job": job, "progress": progress, "issues": issues}, default=str)
        )
        return
    console.print(
        f"[bold]{job['id']}[/] {job['mode']} {job['status']} stage {job['stage']} "
        f"CDC {job['cdc_status']}"
    )
    if job["failure"]:
        console.print(f"[red]failure:[/] {job['failure']}")
    if job["resumable"] and job["status"] == "FAILED":
        deadline = job["resume_deadline"]
        until = f" until {deadline:%Y-%m-%d %H:%M} UTC" if deadline else ""
        console.print(f"resumable{until}: relmig jobs resume {job_id}")
    elif job["not_resumable_reason"] and job["status"] == "FAILED":
        console.print(f"not resumable: {job['not_resumable_reason']}")
    if job["mode"] != "snapshot":
        st = job["stats"]
        console.print(
            f"events {st['events_total']} (last minute {st['events_last_minute']}, last hour "
            f"{st['events_last_hour']}), last event {st['last_event_at'] or '-'}, lag "
            f"{st['lag_seconds'] if st['lag_seconds'] is not None else '-'} s, slot lag "
            f"{st['slot_lag_bytes'] if st['slot_lag_bytes'] is not None else '-'} bytes"
        )
    if "kafka" in job:
        print_kafka(job["kafka"])
    table = RichTable(title="Progress")
    for col in ("collection", "table", "rows", "of", "done"):
        table.add_column(col)
    for p in progress:
        table.add_row(
            p["collection"],
            p["table_id"],
            str(p["rows_done"]),
            str(p["rows_total"]),
            "yes" if p["done"] else "no",
        )
    console.print(table)
    if issues:
        itable = RichTable(title=f"Issues ({len(issues)})")
        for col in ("severity", "collection", "table", "key", "field", "detail"):
            itable.add_column(col)
        for i in issues:
            itable.add_row(
                i["severity"],
                i["collection"] or "",
                i["table_id"] or "",
                i["key"] or "",
                i["field"] or "",
                i["detail"],
            )
        console.print(itable)
