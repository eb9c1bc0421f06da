"""Migration jobs: create, list, watch, the Pause / Resume / Cancel / Complete CDC actions, and
a mapping update of a running job.

Jobs run inside the server process (the job manager's threads), so they go on when the browser
closes. The server remembers which project started a job, so that Resume, Cancel and Complete get
the password of the project's connection, and the job's full target URI (sealed), which the job
store keeps without its password.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from relmig.mongo.names import database_name_for
from relmig.runtime.actions import actions
from relmig.runtime.jobs import JobOptions
from relmig.runtime.store import utcnow
from relmig.runtime.waiting import waiting
from relmig.server.context import Services, Svc
from relmig.server.errors import ApiError
from relmig.transport.kafka.security import Mechanism, Protocol

router = APIRouter(tags=["jobs"])


class JobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["snapshot", "continuous", "cdc-only"] = "snapshot"
    drop: bool = Field(default=False, description="Drop the destination collections first.")
    on_error: Literal["FAIL", "WARN", "SKIP"] = "FAIL"
    max_errors: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="Stop after this many errors."
    )
    verify: bool = Field(default=False, description="Verify the migrated data at the end.")
    target_uri: str | None = Field(default=None, description="Default: the server's target.")
    target_db: str | None = Field(
        default=None, description="Default: the project name, with what MongoDB refuses as _."
    )
    engine: Literal["embedded", "kafka"] = Field(
        default="embedded", description="Where CDC runs: in the server, or through Kafka."
    )
    kafka_bootstrap: str | None = Field(default=None, description="Kafka: host:port,…")
    kafka_partitions: Annotated[int, Field(ge=1)] = 6
    kafka_workers: Annotated[int, Field(ge=0)] = Field(
        default=2, description="Kafka: sink workers the server runs."
    )
    keep_topics: bool = Field(default=False, description="Kafka: keep the topic at the end.")
    kafka_security: Protocol = "plaintext"
    kafka_ca_file: str | None = Field(
        default=None, max_length=4096, description="Kafka: the CA of the brokers' certificates."
    )
    kafka_sasl_mechanism: Mechanism = "SCRAM-SHA-512"
    kafka_user: str | None = Field(default=None, max_length=200)
    kafka_password_env: str = Field(
        default="RELMIG_KAFKA_PASSWORD",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        max_length=200,
        description="Kafka: the environment variable holding the SASL password.",
    )
    parallel: Annotated[int, Field(ge=1)] | None = Field(
        default=None,
        description="Snapshot with this many worker processes, large tables split into key "
        "ranges (Kafka: the job's worker group takes part). Default: in the server's process.",
    )
    range_rows: Annotated[int, Field(ge=1)] = Field(
        default=50_000, description="With parallel: roots per key range of a split table."
    )


class JobResume(BaseModel):
    """Resume may change the error policy: a job stopped by a bad row under FAIL would stop
    on the same row again."""

    model_config = ConfigDict(extra="forbid")

    on_error: Literal["FAIL", "WARN", "SKIP"] | None = Field(
        default=None, description="Error handling from here on (default: unchanged)."
    )
    max_errors: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="Stop after this many errors (with on_error: none = no limit)."
    )


class JobUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    apply: bool = Field(default=False, description="Carry the plan out (false: only show it).")
    project_id: str | None = Field(
        default=None, description="The project to apply. Default: the one that started the job."
    )


def utc(value: Any) -> Any:
    """Timestamps as UTC everywhere (SQLite hands them back without a zone)."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dict):
        return {k: utc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [utc(v) for v in value]
    return value


def _job(svc: Services, job_id: str) -> dict[str, Any]:
    link = svc.records.job_link(job_id)
    described = svc.manager.describe(job_id)
    return utc({**described, "id": job_id, "project_id": link["project_id"] if link else None})


def credentials(svc: Services, job_id: str) -> tuple[str | None, str | None]:
    """The job's target URI and source password, for a job this server started.

    For any other job (started from the CLI) both are None: the manager falls back to the stored
    target and the password's environment variable.
    """
    svc.job(job_id)
    link = svc.records.job_link(job_id)
    row = svc.records.project(link["project_id"]) if link else None
    if link is None or row is None:
        return None, None
    return svc.vault.open(link["target_sealed"]), svc.project_password(row)


@router.get("/jobs")
def list_jobs(
    svc: Svc,
    project_id: Annotated[str | None, Query(description="Only this project's jobs.")] = None,
) -> list[dict[str, Any]]:
    """The job history, newest first."""
    owners = {link["job_id"]: link["project_id"] for link in svc.records.job_links(project_id)}
    jobs = [{**job, "project_id": owners.get(job["id"])} for job in svc.manager.list()]
    return utc([job for job in jobs if project_id is None or job["project_id"] == project_id])


@router.post("/projects/{project_id}/jobs", status_code=201)
def start_job(project_id: str, body: JobCreate, svc: Svc) -> dict[str, Any]:
    """Create Migration Job: it starts at once and runs in the server."""
    row = svc.project_record(project_id)
    project = svc.project(row)
    if not project.collections:
        raise ApiError(422, f"project {project.name} maps no collections: add a rule first")
    if body.kafka_security == "sasl_ssl":
        svc.check_env(body.kafka_password_env)
    target_uri = body.target_uri or svc.config.target_uri
    if not target_uri:
        raise ApiError(422, "no target: give target_uri (this server has no default target)")
    options = JobOptions(
        mode=body.mode,
        drop=body.drop,
        on_error=body.on_error,
        max_errors=body.max_errors,
        verify=body.verify,
        engine=body.engine,
        kafka_bootstrap=body.kafka_bootstrap,
        kafka_partitions=body.kafka_partitions,
        kafka_workers=body.kafka_workers,
        keep_topics=body.keep_topics,
        kafka_security=body.kafka_security,
        kafka_ca_file=body.kafka_ca_file,
        kafka_sasl_mechanism=body.kafka_sasl_mechanism,
        kafka_user=body.kafka_user,
        kafka_password_env=body.kafka_password_env,
        parallel=body.parallel,
        range_rows=body.range_rows,
    )
    database = body.target_db or database_name_for(project.name)
    job_id = svc.manager.start(project, target_uri, database, options, svc.project_password(row))
    svc.records.link_job(job_id, project_id, svc.vault.seal(target_uri))
    return _job(svc, job_id)


@router.get("/jobs/{job_id}")
def get_job(job_id: str, svc: Svc) -> dict[str, Any]:
    """Status, CDC status, progress per collection, CDC figures, whether it can resume, the
    actions that apply now, and for a paused job the changes waiting at the source."""
    out = _job(svc, job_id)
    out["actions"] = actions(out)
    out["waiting"] = _waiting(svc, out)
    return out


_WAITING_TTL = 5.0
_waiting_seen: dict[str, tuple[float, dict[str, Any] | None]] = {}


def _waiting(svc: Services, job: dict[str, Any]) -> dict[str, Any] | None:
    """The source is asked at most every few seconds per job, however often the UI polls."""
    if job["status"] != "PAUSED":
        return None
    seen = _waiting_seen.get(job["id"])
    if seen is not None and time.monotonic() - seen[0] < _WAITING_TTL:
        return seen[1]
    _, password = credentials(svc, job["id"])
    value = waiting(svc.store.job(job["id"]) or {}, password)
    _waiting_seen[job["id"]] = (time.monotonic(), value)
    return value


@router.get("/jobs/{job_id}/issues")
def job_issues(
    job_id: str, svc: Svc, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000
) -> list[dict[str, Any]]:
    """The Issues list: each error with its collection, table, key, field and detail."""
    svc.job(job_id)
    return utc(svc.store.issues_of(job_id, limit))


@router.get("/jobs/{job_id}/history")
def job_history(
    job_id: str, svc: Svc, minutes: Annotated[int, Query(ge=1, le=24 * 60)] = 60
) -> list[dict[str, Any]]:
    """Per minute: events applied and the highest commit-to-target lag (the job page's chart)."""
    svc.job(job_id)
    since = utcnow().replace(second=0, microsecond=0) - dt.timedelta(minutes=minutes - 1)
    return utc(svc.store.history(job_id, since))


@router.post("/jobs/{job_id}/pause")
def pause_job(job_id: str, svc: Svc) -> dict[str, Any]:
    """Pause a RUNNING continuous or cdc-only job; Resume continues it."""
    svc.job(job_id)
    svc.manager.pause(job_id)
    return _job(svc, job_id)


@router.post("/jobs/{job_id}/resume")
def resume_job(job_id: str, svc: Svc, body: JobResume | None = None) -> dict[str, Any]:
    """Resume a PAUSED job, or a FAILED one within its recovery window."""
    target_uri, password = credentials(svc, job_id)
    body = body or JobResume()
    svc.manager.resume(
        job_id,
        target_uri=target_uri,
        password=password,
        on_error=body.on_error,
        max_errors=body.max_errors,
    )
    return _job(svc, job_id)


@router.post("/jobs/{job_id}/update")
def update_job(job_id: str, svc: Svc, body: JobUpdate | None = None) -> dict[str, Any]:
    """Apply a project's mapping, as it is now, to a continuous job while CDC goes on: the
    plan (collections unchanged, rebuilt, added, dropped), and with `apply` the plan carried
    out, only the changed collections copied again (`relmig jobs update`)."""
    body = body or JobUpdate()
    svc.job(job_id)
    link = svc.records.job_link(job_id)
    project_id = body.project_id or (link["project_id"] if link else None)
    if project_id is None:
        raise ApiError(422, f"job {job_id} was not started by this server: give project_id")
    row = svc.project_record(project_id)
    password = svc.project_password(row)
    plan = svc.manager.update(job_id, svc.project(row), password, apply=body.apply)
    return {
        "plan": plan.as_dict(),
        "lines": plan.lines(),
        "applied": body.apply,
        "job": _job(svc, job_id),
    }


@router.post("/jobs/{job_id}/cancel")
def cancel_job(job_id: str, svc: Svc) -> dict[str, Any]:
    """Cancel a job; its replication slot is dropped."""
    _, password = credentials(svc, job_id)
    svc.manager.cancel(job_id, password=password)
    return _job(svc, job_id)


@router.post("/jobs/{job_id}/complete")
def complete_job(job_id: str, svc: Svc) -> dict[str, Any]:
    """Complete CDC: apply what is pending, then end the job as COMPLETED."""
    target_uri, password = credentials(svc, job_id)
    svc.manager.complete(job_id, target_uri=target_uri, password=password)
    return _job(svc, job_id)
