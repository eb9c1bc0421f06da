"""Continuous and CDC-only jobs from the command line, and their lifecycle.

The job runs in the foreground of `relmig sync` or `relmig jobs resume`; `pause`, `cancel` and
`complete` from another terminal reach it through the state store.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from relmig.cli.common import console, source_password, target_uri, user_errors
from relmig.cli.job_cmds import (
    BATCH_SIZE,
    KAFKA_CA_FILE,
    KAFKA_PASSWORD_ENV,
    KAFKA_SASL_MECHANISM,
    KAFKA_SECURITY,
    KAFKA_USER,
    PARALLEL,
    RANGE_ROWS,
    TARGET_HELP,
    jobs_app,
    resolve_job,
)
from relmig.cli.output import AS_JSON, emit_json
from relmig.cli.running import STOP_TIMEOUT, check_on_error, run_with_progress
from relmig.errors import RelmigError

# The runtime, the project model and the source are imported by the commands that use them
# (relmig.cli.common says why).
if TYPE_CHECKING:
    from relmig.runtime.jobs import JobManager


def _manager() -> JobManager:
    from relmig.runtime.jobs import JobManager
    from relmig.runtime.store import StateStore

    return JobManager(StateStore())


@user_errors
def check(
    project_file: Path = typer.Argument(..., help="Project file."),
    script: Path = typer.Option(None, "--script", help="Also write the fix script here."),
    as_json: bool = AS_JSON,
) -> None:
    """Check the source's CDC prerequisites; print the SQL that fixes what is missing."""
    from relmig.project.file import load_project
    from relmig.route.cascades import followed_cascades
    from relmig.schema.link_indexes import unindexed_links
    from relmig.source.capture import fix_script, missing_prerequisites

    project = load_project(project_file)
    password = source_password(project.source)
    missing = missing_prerequisites(project, password)
    fix = fix_script(missing) if missing else None
    advice = unindexed_links(project, password)
    cascades = followed_cascades(project, password)
    indexes = fix_script(advice, "link columns without an index") if advice else ""
    if script and (fix or advice):
        script.write_text((fix or "") + indexes)
    if as_json:
        emit_json(
            {
                "ready": not missing,
                "missing": [asdict(p) for p in missing],
                "unindexed_links": [asdict(p) for p in advice],
                "cascades": [{"cascade": c, "followed": ok} for c, ok in cascades],
                "script": (fix or "") + indexes or None,
            }
        )
    else:
        if fix is None:
            console.print("[green]CDC prerequisites: all met[/]")
        else:
            console.print("[red]CDC prerequisites missing.[/] Run this as a privileged user:\n")
            console.print(fix, markup=False, highlight=False)
        if advice:
            console.print(
                f"[yellow]{len(advice)} link column set(s) without an index[/] (routing and "
                "recompute query by them on every change):\n"
            )
            console.print(indexes, markup=False, highlight=False)
        if cascades:
            console.print(
                "Foreign-key actions MariaDB applies without logging the child rows; relmig "
                "routes each parent change to the documents they touched:"
            )
            for line, followed in cascades:
                console.print(f"  {line}" if followed else f"  [yellow]{line}[/]", highlight=False)
        if script and (fix or advice):
            console.print(f"(written to {script})")
    if missing:
        raise typer.Exit(1)


@user_errors
def sync(
    project_file: Path = typer.Argument(..., help="Project file."),
    mode: str = typer.Option("continuous", "--mode", help="continuous or cdc-only."),
    target: str = typer.Option(None, "--target", "-t", help=TARGET_HELP),
    database: str = typer.Option(
        None, "--database", "-d", help="Target database (default: the project name)."
    ),
    drop: bool = typer.Option(False, "--drop", help="Drop the destination collections first."),
    on_error: str = typer.Option("FAIL", "--on-error", help="FAIL, WARN or SKIP."),
    max_errors: int = typer.Option(None, "--max-errors", help="Stop after this many errors."),
    recovery_hours: float = typer.Option(
        24.0, "--recovery-hours", help="How long a failed job stays resumable."
    ),
    engine: str = typer.Option("embedded", "--engine", help="embedded, or kafka (docs/kafka.md)."),
    kafka_bootstrap: str = typer.Option(
        None, "--kafka-bootstrap", envvar="RELMIG_KAFKA_BOOTSTRAP", help="host:port,… (kafka)."
    ),
    partitions: int = typer.Option(6, "--partitions", min=1, help="Topic partitions (kafka)."),
    workers: int = typer.Option(2, "--workers", min=0, help="Local sink workers (kafka)."),
    keep_topics: bool = typer.Option(
        False, "--keep-topics", help="Keep the topic after cancel/complete (kafka)."
    ),
    kafka_security: str = KAFKA_SECURITY,
    kafka_ca_file: str = KAFKA_CA_FILE,
    kafka_sasl_mechanism: str = KAFKA_SASL_MECHANISM,
    kafka_user: str = KAFKA_USER,
    kafka_password_env: str = KAFKA_PASSWORD_ENV,
    parallel: int = PARALLEL,
    range_rows: int = RANGE_ROWS,
    batch_size: int = BATCH_SIZE,
    stop_timeout: float = STOP_TIMEOUT,
) -> None:
    """Snapshot then stream changes (continuous), or stream only (cdc-only), until completed.
    SIGTERM or Ctrl-C pauses the job cleanly (`relmig jobs resume` continues it)."""
    if mode not in ("continuous", "cdc-only"):
        raise RelmigError(f"--mode must be continuous or cdc-only, not {mode!r}")
    if engine not in ("embedded", "kafka"):
        raise RelmigError(f"--engine must be embedded or kafka, not {engine!r}")
    from relmig.mongo.names import database_name_for
    from relmig.project.file import load_project
    from relmig.runtime.jobs import JobOptions

    on_error = check_on_error(on_error)
    project = load_project(project_file)
    uri = target_uri(target)
    password = source_password(project.source)
    manager = _manager()
    options = JobOptions(
        mode=mode,  # type: ignore[arg-type]
        drop=drop,
        on_error=on_error,  # type: ignore[arg-type]
        max_errors=max_errors,
        recovery_hours=recovery_hours,
        engine=engine,  # type: ignore[arg-type]
        kafka_bootstrap=kafka_bootstrap,
        kafka_partitions=partitions,
        kafka_workers=workers,
        keep_topics=keep_topics,
        kafka_security=kafka_security,
        kafka_ca_file=kafka_ca_file,
        kafka_sasl_mechanism=kafka_sasl_mechanism,
        kafka_user=kafka_user,
        kafka_password_env=kafka_password_env,
        parallel=parallel,
        range_rows=range_rows,
        batch_size=batch_size,
    )
    job_id = manager.create(
        project, uri, database or database_name_for(project.name), options, password
    )
    console.print(
        f"Job [bold]{job_id}[/] {mode}: stop it with `relmig jobs complete {job_id}` "
        "(cutover), `pause` or `cancel`.",
        highlight=False,
    )
    run = lambda cb: manager.run(job_id, uri, password, cb)  # noqa: E731
    _report(run_with_progress(manager, job_id, run, stop_timeout))


def _report(job: dict[str, Any]) -> None:
    console.print(
        f"Job [bold]{job['id']}[/] {job['status']}: {job['stats']['events_total']:,} change "
        f"events applied, {job['error_count']:,} issues.",
        highlight=False,
    )


def _password_of(manager: JobManager, job_id: str) -> str | None:
    from relmig.project.model import Project

    project = Project.model_validate(manager.job(job_id)["project_doc"])
    return source_password(project.source)


@jobs_app.command("resume")
@user_errors
def jobs_resume(
    job_id: str = typer.Argument(..., help="Job id, or the start of one."),
    target: str = typer.Option(None, "--target", "-t", help=TARGET_HELP),
    on_error: str = typer.Option(
        None, "--on-error", help="Change the error handling from here on: FAIL, WARN or SKIP."
    ),
    max_errors: int = typer.Option(
        None, "--max-errors", min=1, help="Change the error limit from here on."
    ),
    stop_timeout: float = STOP_TIMEOUT,
) -> None:
    """Continue a paused job, or a failed one within its recovery window, from its checkpoint."""
    if on_error is not None:
        on_error = check_on_error(on_error)
    manager = _manager()
    job_id = resolve_job(manager.store, job_id)
    password = _password_of(manager, job_id)
    console.print(f"Resuming job [bold]{job_id}[/] from its checkpoint.")
    resume = lambda cb: manager.resume(  # noqa: E731
        job_id,
        target,
        password,
        foreground=True,
        on_progress=cb,
        on_error=on_error,  # type: ignore[arg-type]
        max_errors=max_errors,
    )
    _report(run_with_progress(manager, job_id, resume, stop_timeout))


@jobs_app.command("pause")
@user_errors
def jobs_pause(job_id: str = typer.Argument(..., help="Job id, or the start of one.")) -> None:
    """Ask a running continuous job to stop streaming; `resume` continues it."""
    manager = _manager()
    job_id = resolve_job(manager.store, job_id)
    manager.pause(job_id)
    console.print(f"Pause requested for {job_id}.")


@jobs_app.command("cancel")
@user_errors
def jobs_cancel(job_id: str = typer.Argument(..., help="Job id, or the start of one.")) -> None:
    """Stop a job; partial data stays in the target; its slot and publication are dropped."""
    manager = _manager()
    job_id = resolve_job(manager.store, job_id)
    manager.cancel(job_id, _password_of(manager, job_id))
    console.print(f"Cancel requested for {job_id}.")


@jobs_app.command("complete")
@user_errors
def jobs_complete(
    job_id: str = typer.Argument(..., help="Job id, or the start of one."),
    target: str = typer.Option(None, "--target", "-t", help=TARGET_HELP),
) -> None:
    """Cutover: apply every pending change, then release the slot and publication."""
    manager = _manager()
    job_id = resolve_job(manager.store, job_id)
    password = _password_of(manager, job_id)
    status = manager.complete(job_id, target, password, foreground=True)
    console.print(f"Job {job_id}: {status}.")
