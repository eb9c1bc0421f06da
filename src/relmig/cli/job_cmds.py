"""Commands that run jobs against a target and report on them."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from relmig.cli.common import (
    connected_source,
    connected_target,
    console,
    source_password,
    target_uri,
    user_errors,
)
from relmig.cli.kafka_cmds import print_kafka
from relmig.cli.output import (
    AS_JSON,
    UNKNOWN,
    block,
    clock,
    count,
    emit_json,
    seconds,
    size,
    table,
    when,
)
from relmig.cli.running import STOP_TIMEOUT, check_on_error, run_with_progress
from relmig.errors import RelmigError

# The runtime, the project model and the target are imported by the commands that use them
# (relmig.cli.common says why).
if TYPE_CHECKING:
    from relmig.runtime.store import StateStore

TARGET_HELP = "MongoDB URI (default: $RELMIG_TARGET_URI)."
BATCH_SIZE = typer.Option(1000, "--batch-size", min=1, help="Root rows per snapshot batch.")
PARALLEL = typer.Option(
    None,
    "--parallel",
    min=1,
    help="Copy with N worker processes: collections side by side, large tables split into "
    "key ranges (in Kafka mode the job's worker group takes part too).",
)
RANGE_ROWS = typer.Option(
    50_000, "--range-rows", min=1, help="With --parallel: roots per key range of a split table."
)
# TLS and SASL to Kafka (docs/security.md); the password only through an environment variable.
KAFKA_SECURITY = typer.Option(
    "plaintext", "--kafka-security", help="plaintext, ssl or sasl_ssl (kafka)."
)
KAFKA_CA_FILE = typer.Option(
    None, "--kafka-ca-file", help="The CA that signed the brokers' certificates (kafka)."
)
KAFKA_SASL_MECHANISM = typer.Option(
    "SCRAM-SHA-512", "--kafka-sasl-mechanism", help="SCRAM-SHA-512 or SCRAM-SHA-256 (kafka)."
)
KAFKA_USER = typer.Option(None, "--kafka-user", help="The SASL user (kafka, sasl_ssl).")
KAFKA_PASSWORD_ENV = typer.Option(
    "RELMIG_KAFKA_PASSWORD",
    "--kafka-password-env",
    help="Environment variable holding the SASL password (kafka, sasl_ssl).",
)


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
    batch_size: int = BATCH_SIZE,
    collection: list[str] = typer.Option(
        None, "--collection", "-c", help="Only these collections."
    ),
    resume: str = typer.Option(
        None, "--resume", help="Resume this snapshot job from its checkpoints."
    ),
    parallel: int = PARALLEL,
    range_rows: int = RANGE_ROWS,
    stop_timeout: float = STOP_TIMEOUT,
) -> None:
    """Copy the source into MongoDB with the project's mapping (a snapshot job)."""
    from relmig.mongo.names import database_name_for
    from relmig.project.file import load_project
    from relmig.runtime.jobs import JobManager, JobOptions
    from relmig.runtime.store import StateStore

    on_error = check_on_error(on_error)
    project = load_project(project_file)
    uri = target_uri(target)
    password = source_password(project.source)
    db_name = database or database_name_for(project.name)
    manager = JobManager(StateStore())
    started = time.monotonic()
    if resume:
        job_id = resolve_job(manager.store, resume)
        console.print(f"Job [bold]{job_id}[/] snapshot: resuming from its checkpoints.")
        run = lambda cb: manager.resume(  # noqa: E731 - the two ways in differ by one call
            job_id, uri, password, foreground=True, on_progress=cb
        )
    else:
        options = JobOptions(
            mode="snapshot",
            drop=drop,
            on_error=on_error,  # type: ignore[arg-type]
            max_errors=max_errors,
            verify=verify_after,
            batch_size=batch_size,
            collections=list(collection) if collection else None,
            parallel=parallel,
            range_rows=range_rows,
        )
        job_id = manager.create(project, uri, db_name, options, password)
        console.print(f"Job [bold]{job_id}[/] snapshot of {project.name} into {db_name}.")
        run = lambda cb: manager.run(job_id, uri, password, cb)  # noqa: E731
    with connected_target(uri, db_name) as tgt:
        if tgt.decimals != "decimal128":
            console.print(
                f"note: this target cannot store Decimal128; exact numbers are stored as "
                f"{tgt.decimals}s."
            )
    job = run_with_progress(manager, job_id, run, stop_timeout)
    elapsed = time.monotonic() - started
    rows = sum(p["rows_done"] for p in job["progress"])
    errors = job["error_count"]
    console.print(
        f"Job [bold]{job_id}[/] {job['status']}: {rows:,} documents in {len(job['progress'])} "
        f"collections in {seconds(elapsed)} ({rows / max(elapsed, 1e-9):,.0f} rows/s), "
        f"{errors} issues."
    )
    if errors:
        console.print(f"See the issues with: relmig jobs show {job_id}")
    if job["verify_result"] is not None:
        print_verify(job["verify_result"])
        if not job["verify_result"]["ok"]:
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
    as_json: bool = AS_JSON,
) -> None:
    """Compare the target with a fresh snapshot computed from the source; exit 0 only if equal."""
    from relmig.mongo.names import database_name_for
    from relmig.project.file import load_project
    from relmig.verify.compare import verify

    project = load_project(project_file)
    with (
        connected_source(project.source) as source,
        connected_target(target, database or database_name_for(project.name)) as tgt,
    ):
        report = verify(
            project, source, tgt, collections=_collections(collection), filters=not no_filters
        )
    if as_json:
        emit_json(report.as_dict(max_examples=20))
    else:
        print_verify(report.as_dict(max_examples=20))
    if not report.ok:
        raise typer.Exit(1)


def print_verify(result: dict[str, Any]) -> None:
    """A verification result (VerifyReport.as_dict), as the job page shows it. Documents with
    a value the target cannot store are not compared (the error policy wrote them without it,
    or not at all): counted apart, so "equal" never hides them."""
    columns = (
        "collection",
        "expected",
        "target",
        "missing",
        "extra",
        "different",
        "unmigratable",
        "result",
    )
    rows = [
        [
            c["name"],
            *(
                count(c[k])
                for k in ("expected", "actual", "missing", "extra", "different", "unmigratable")
            ),
            ("equal" if c["ok"] else "DIFFERENT")
            + (f" but {count(c['unmigratable'])} unmigratable" if c["unmigratable"] else ""),
        ]
        for c in result["collections"]
    ]
    table(columns, rows, "Verification")
    for c in result["collections"]:
        for d in c["examples"]:
            block(f"  {c['name']}: {d['kind']} {d['key']}", d["detail"], indent=6)
    unmigratable = sum(c["unmigratable"] for c in result["collections"])
    if not result["ok"]:
        console.print("[red]verify: differences found[/]")
    elif unmigratable:
        console.print(
            f"[yellow]verify: target equals source except {count(unmigratable)} unmigratable "
            "documents[/] (a value the target cannot store: written without it or not at all, "
            "as the error policy said; the job's issues list each with its key)",
            highlight=False,
        )
    else:
        console.print("[green]verify: target equals source[/]")


jobs_app = typer.Typer(help="List and inspect jobs.", no_args_is_help=True)


def _waiting(job: dict[str, Any]) -> dict[str, Any] | None:
    """A paused job's backlog, read with the password from its environment variable."""
    if job.get("status") != "PAUSED" or not job.get("project_doc"):
        return None
    from relmig.project.model import Project
    from relmig.runtime.waiting import waiting

    project = Project.model_validate(job["project_doc"])
    return waiting(job, os.environ.get(project.source.password_env))


def _describe_waiting(pending: dict[str, Any]) -> str:
    if "error" in pending:
        return f"the source could not say what is waiting: {pending['error']}"
    txns = pending["transactions"]
    counted = (
        f"{'at least ' if pending['at_least'] else ''}{txns:,} transactions ("
        if txns is not None
        else "("
    )
    return f"{counted}{size(pending['bytes'])} of log) waiting at the source"


def resolve_job(store: StateStore, given: str) -> str:
    """A job id, or a prefix of exactly one job's id (as git takes a commit)."""
    ids = [j["id"] for j in store.list_jobs()]
    if given in ids:
        return given
    matches = [i for i in ids if i.startswith(given)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise RelmigError(f"{given!r} matches {len(matches)} jobs: {', '.join(matches)}")
    raise RelmigError(f"no job {given!r} in the state store {store.where}")


@jobs_app.command("list")
@user_errors
def jobs_list(as_json: bool = AS_JSON) -> None:
    """All jobs, newest first (jobs whose process died are marked FAILED first)."""
    from relmig.runtime.jobs import JobManager
    from relmig.runtime.store import StateStore

    jobs = JobManager(StateStore()).list()
    if as_json:
        emit_json(jobs)
        return
    columns = ("id", "project", "mode", "status", "cdc", "stage", "created", "issues")
    rows = [
        [
            job["id"],
            job["project"],
            job["mode"],
            job["status"],
            job["cdc_status"] if job["mode"] != "snapshot" else UNKNOWN,
            job["stage"],
            when(job["created_at"]),
            count(job["error_count"]),
        ]
        for job in jobs
    ]
    table(columns, rows)


@jobs_app.command("show")
@user_errors
def jobs_show(
    job_id: str = typer.Argument(..., help="Job id, or the start of one."),
    as_json: bool = AS_JSON,
) -> None:
    """A job's status, progress per collection, verification and its Issues list."""
    from relmig.runtime.jobs import JobManager
    from relmig.runtime.store import StateStore

    manager = JobManager(StateStore())
    job_id = resolve_job(manager.store, job_id)
    job = manager.describe(job_id)
    progress = job.pop("progress")
    issues = manager.store.issues_of(job_id)
    if as_json:
        emit_json({"job": job, "progress": progress, "issues": issues})
        return
    console.print(
        f"[bold]{job['id']}[/] {job['mode']} {job['status']} stage {job['stage']}"
        + (f" CDC {job['cdc_status']}" if job["mode"] != "snapshot" else ""),
        highlight=False,
    )
    console.print(
        f"created {when(job['created_at'])}, ended {when(job['ended_at'])}", highlight=False
    )
    for c in job["conditions"]:
        retry = f", next retry at {when(c['retry_at'])}" if c["retry_at"] else ""
        block(
            f"condition: the {c['name']} link is failing since {when(c['since'])} "
            f"({count(c['attempts'])} attempts{retry}); last error:",
            c["last_error"],
        )
    for d in job["drift"]:
        label = "schema change (paused the job)" if d["breaking"] else "schema drift"
        block(f"{label} since {when(d['since'])}:", d["text"])
    if job["failure"]:
        block("failure:", job["failure"])
    elif job["status"] == "PAUSED" and job.get("stop_reason"):
        block("paused:", job["stop_reason"])
    if job["resumable"] and (job["status"] == "FAILED" or job["resume_deadline"]):
        deadline = job["resume_deadline"]
        until = f" until {when(deadline)}" if deadline else ""
        console.print(f"resumable{until}: relmig jobs resume {job_id}", highlight=False)
    elif job["not_resumable_reason"] and job["status"] == "FAILED":
        block("not resumable:", job["not_resumable_reason"])
    pending = _waiting(manager.store.job(job_id) or {})
    if job["mode"] != "snapshot":
        st = job["stats"]
        slot = "dropped" if job["slot_dropped"] else size(st["slot_lag_bytes"])
        if pending is not None and "bytes" in pending:  # measured now; none is recorded
            slot = size(pending["bytes"])
        console.print(
            f"events {count(st['events_total'])} (since "
            f"{clock(st['events_counted_from']['minute'])} {count(st['events_last_minute'])}, "
            f"since {clock(st['events_counted_from']['hour'])} {count(st['events_last_hour'])})"
            ", last event "
            f"{when(st['last_event_at'])}, lag {seconds(st['lag_seconds'])}, slot lag {slot}",
            highlight=False,
        )
    if pending is not None:
        console.print(f"paused: {_describe_waiting(pending)}", highlight=False)
    if "kafka" in job:
        print_kafka(job["kafka"])
    rows = [
        [
            p["collection"],
            p["table_id"],
            count(p["rows_done"]),
            count(p["rows_total"]),
            "yes" if p["done"] else "no",
        ]
        for p in progress
    ]
    table(("collection", "table", "rows", "of", "done"), rows, "Progress")
    if job["update"]:  # the last mapping update (relmig jobs update)
        changes = [
            [
                u["collection"],
                "drop" if u["action"] == "drop" else "copy again",
                u["state"],
                count(u["rows_done"]) if u["action"] == "copy" else UNKNOWN,
                count(u["rows_total"]) if u["action"] == "copy" else UNKNOWN,
            ]
            for u in job["update"]
        ]
        table(("collection", "change", "state", "roots", "of"), changes, "Mapping update")
    if job["verify_result"] is not None:
        print_verify(job["verify_result"])
    if issues:
        typer.echo(f"Issues ({len(issues)}):")
        for i in issues:
            where = " ".join(
                f"{label} {i[k]}"
                for label, k in (("in", "collection"), ("table", "table_id"), ("key", "key"))
                if i[k]
            )
            seen = f" (seen {i['occurrences']} times)" if i.get("occurrences", 1) > 1 else ""
            field = f" field {i['field']}" if i["field"] else ""
            block(f"- {i['severity']} {when(i['at'])} {where}{field}{seen}".rstrip(), i["detail"])
