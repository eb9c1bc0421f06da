"""Job lifecycle: start, run, pause, resume, cancel, complete, update, and recovery after a
crash. The steps of a run itself are relmig.runtime.stages.

Every control action goes through the state store, so it works the same whether the job runs
in this process (the server), in another one (`relmig jobs pause` while `relmig run` streams),
or in none (resuming a job whose process died). A running job beats a heartbeat; any process
that opens the store through a JobManager marks jobs whose process died FAILED, and such a job
stays resumable for its recovery window (24 h by default).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from relmig.analysis.custom_ids import duplicate_ids, unproven
from relmig.errors import (
    PositionLost,
    PrivilegeMissing,
    RelmigError,
    SchemaChanged,
    TargetError,
)
from relmig.failpoints import crash_point
from relmig.links import link_name
from relmig.mongo.names import database_name_problem
from relmig.mongo.writer import MongoTarget, display_uri
from relmig.project.model import Project
from relmig.project.update_plan import UpdatePlan, plan_update, update_refusal
from relmig.runtime.drift import drift_entries, drift_paused_since, pause_for_drift
from relmig.runtime.engine import engine
from relmig.runtime.mapping_update import job_refusal, take_update, update_progress
from relmig.runtime.policy import OnError
from relmig.runtime.privileges import privilege_failure
from relmig.runtime.recopy import REMAP
from relmig.runtime.snapshot import (
    ProgressCallback,
)
from relmig.runtime.stages import JobSteps, cancelled_cdc, engine_of
from relmig.runtime.store import (
    CDC_DRAINED,
    StateStore,
    aware,
    current_slot_lag,
    utcnow,
)
from relmig.source.capture import ChangeCapture, fix_script, missing_prerequisites, open_capture
from relmig.source.connect import open_source

Mode = Literal["snapshot", "continuous", "cdc-only"]
Clock = Callable[[], dt.datetime]
# job id → (target URI, source password) where the caller keeps them; (None, None): the job's
Credentials = Callable[[str], tuple[str | None, str | None]]
log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.0
STALE_AFTER = dt.timedelta(seconds=30)
ACTIVE = ("RUNNING", "CANCELLING")


class JobError(RelmigError):
    """A request the job's state does not allow; `kind` maps to an HTTP status in the API."""

    def __init__(self, message: str, kind: Literal["not_found", "conflict", "invalid"]) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(slots=True)
class JobOptions:
    mode: Mode = "continuous"
    drop: bool = False
    on_error: OnError = "FAIL"
    max_errors: int | None = None
    verify: bool = False
    batch_size: int = 1000
    collections: list[str] | None = None  # the snapshot stage: only these collections
    # The snapshot stage in worker processes, tables split into key ranges of about
    # `range_rows` roots (docs/architecture.md); None: in the job's process, page by page.
    parallel: int | None = None
    range_rows: int = 50_000
    recovery_hours: float = 24.0
    drop_slot_after_window: bool = True
    slot_lag_warning_bytes: int = 1 << 30
    # CDC through Kafka (docs/kafka.md): "embedded" applies in this process.
    engine: Literal["embedded", "kafka"] = "embedded"
    kafka_bootstrap: str | None = None
    kafka_partitions: int = 6
    kafka_workers: int = 2
    keep_topics: bool = False
    # TLS and SASL to Kafka (relmig.transport.kafka.security); the password is read from
    # the variable kafka_password_env names, never stored.
    kafka_security: str = "plaintext"  # plaintext, ssl or sasl_ssl
    kafka_ca_file: str | None = None
    kafka_sasl_mechanism: str = "SCRAM-SHA-512"
    kafka_user: str | None = None
    kafka_password_env: str = "RELMIG_KAFKA_PASSWORD"


class JobManager:
    def __init__(self, store: StateStore, clock: Clock = utcnow, *, serves: bool = False) -> None:
        """`serves`: this is `relmig serve`'s manager. A job a live server owns is run by that
        server only (it keeps the connection's password): other processes refuse to run it."""
        self.store = store
        self.clock = clock
        self.serves = serves
        self._threads: dict[str, threading.Thread] = {}
        self.recover_stale()

    # --- queries ------------------------------------------------------------------------------

    def job(self, job_id: str) -> dict[str, Any]:
        job = self.store.job(job_id)
        if job is None:
            raise JobError(f"no job {job_id!r} in the state store {self.store.where}", "not_found")
        return job

    def list(self) -> list[dict[str, Any]]:
        self.recover_stale()
        return [self.describe(j["id"]) for j in self.store.list_jobs()]

    def describe(self, job_id: str) -> dict[str, Any]:
        job = self.job(job_id)
        now = self.clock()
        out = {k: v for k, v in job.items() if k not in ("project_doc", "request", "update_doc")}
        out["options"] = job["options"]
        # Events are counted per minute: the windows start at the minute boundary before
        # "a minute ago" and "an hour ago", so a recent event is always in them, and each
        # says where it starts (it spans up to a minute more than its name).
        minute_from = _minute(now - dt.timedelta(minutes=1))
        hour_from = _minute(now - dt.timedelta(hours=1))
        out["stats"] = {
            "events_total": job["events_total"],
            "events_last_minute": self.store.events_since(job_id, minute_from),
            "events_last_hour": self.store.events_since(job_id, hour_from),
            "events_counted_from": {"minute": minute_from, "hour": hour_from},
            "last_event_at": job["last_event_at"],
            "lag_seconds": job["lag_seconds"],
            "slot_lag_bytes": current_slot_lag(job),
        }
        out["progress"] = self.store.progress_of(job_id)
        out["conditions"] = self.conditions(job)
        out["drift"] = drift_entries(self.store, job_id)
        out["update"] = update_progress(self.store, job_id)
        resumable, deadline, reason = self._resumability(job, now)
        out.update(resumable=resumable, resume_deadline=deadline, not_resumable_reason=reason)
        out["pending_request"] = job["request"]
        out["steps"] = self.store.steps(job_id)
        extra = engine(engine_of(job)).status(self.store, job_id)
        if extra is not None:
            out[engine_of(job)] = extra
        return out

    def conditions(self, job: dict[str, Any]) -> list[dict[str, Any]]:
        """The links failing right now, each with the name users know it by. Only a running
        job has any: a stopped one (even one whose process died) retries nothing."""
        if job["status"] not in ACTIVE:
            return []
        return [
            {
                "link": c["link"],
                "name": link_name(c["link"]),
                "since": c["since"],
                "retry_at": c["retry_at"],
                "attempts": c["attempts"],
                "last_error": c["last_error"],
            }
            for c in self.store.conditions_of(job["id"])
        ]

    def _resumability(
        self, job: dict[str, Any], now: dt.datetime
    ) -> tuple[bool, dt.datetime | None, str | None]:
        status = job["status"]
        if status == "PAUSED":
            # A pause by the user waits as long as they like; one by breaking DDL (recorded
            # drift) keeps the source's WAL for a fix, so its window counts as a failure's.
            since = drift_paused_since(self.store, job["id"])
            if since is None:
                return True, None, None
        elif status != "FAILED":
            return False, None, f"the job is {status}"
        elif job["mode"] == "snapshot" or CDC_DRAINED in self.store.steps(job["id"]):
            return True, None, None  # a drained cutover only has its release left to finish
        else:
            since = aware(job["failed_at"] or job["ended_at"] or job["created_at"])
        if job["slot_dropped"]:
            return False, None, "its replication position was released; start a new job"
        return self._window(job, since, now)

    def _window(
        self, job: dict[str, Any], since: dt.datetime, now: dt.datetime
    ) -> tuple[bool, dt.datetime | None, str | None]:
        """Resumable until the recovery window from `since` (a failure, a drift pause) ends."""
        deadline = since + dt.timedelta(hours=job["options"].get("recovery_hours", 24.0))
        if now > deadline:
            return (
                False,
                deadline,
                (f"its recovery window ended at {deadline:%Y-%m-%d %H:%M} UTC; start a new job"),
            )
        return True, deadline, None

    # --- recovery -----------------------------------------------------------------------------

    def recover_stale(self) -> list[str]:
        """Mark jobs FAILED whose process is gone: a dead local pid, or a stale heartbeat."""
        me = socket.gethostname()
        dead = []
        for job in self.store.list_jobs():
            if job["status"] not in ACTIVE or job["id"] in self._threads:
                continue
            host, _, pid = (job["options"] or {}).get("owner", "").partition(":")
            if host == me and pid.isdigit() and not _pid_alive(int(pid)):
                dead.append(job["id"])
        return self.store.mark_stale(STALE_AFTER, self.clock(), dead=dead)

    def resume_after_restart(
        self, credentials: Credentials = lambda _job: (None, None)
    ) -> list[str]:
        """After a server restart, resume the jobs whose engine recovers by itself (Kafka mode)
        and whose process died, within their window; the others wait for the user's Resume.
        A job that failed on its own (DDL, the error policy, its window) always waits."""
        self.recover_stale()
        resumed = []
        for job in self.store.list_jobs():
            if job["status"] != "FAILED" or not engine(engine_of(job)).resumes_by_itself:
                continue
            if job["failure_kind"] != "stopped":
                continue
            target_uri, password = credentials(job["id"])
            try:
                self.resume(job["id"], target_uri, password)
            except RelmigError as exc:
                log.warning("job %s was not resumed after the restart: %s", job["id"], exc)
                continue
            log.warning("job %s resumed after the restart", job["id"])
            resumed.append(job["id"])
        return resumed

    # --- actions ------------------------------------------------------------------------------

    def check(self, project: Project, password: str | None = None) -> str | None:
        """The fix script if CDC prerequisites are missing, else None."""
        missing = missing_prerequisites(project, password)
        return fix_script(missing) if missing else None

    def create(
        self,
        project: Project,
        target_uri: str,
        target_db: str,
        options: JobOptions,
        password: str | None = None,
    ) -> str:
        """Record a new job after checking what it needs; `run` or `start` executes it."""
        refusal = (
            engine(options.engine).refuse(asdict(options))
            or database_name_problem(target_db)
            or _parallel_problem(options)
        )
        if refusal:
            raise JobError(refusal, "invalid")
        try:  # a job that cannot reach its target is refused now, not offered a futile Resume
            MongoTarget(target_uri, target_db).close()
        except TargetError as exc:
            raise JobError(str(exc), "invalid") from None
        if options.mode != "snapshot":
            script = self.check(project, password)
            if script:
                raise JobError(
                    "the source is not ready for CDC, so a "
                    f"{options.mode} job cannot start. Missing:\n{script}",
                    "invalid",
                )
        self._refuse_overlap(project, target_uri, target_db)
        self._refuse_duplicate_ids(project, password)
        job_id = self.store.create_job(
            project.name,
            options.mode,
            display_uri(target_uri),
            target_db,
            {
                **asdict(options),
                "target_uri_has_secret": display_uri(target_uri) != target_uri,
                # Owned by this process from the start: if it dies before the job runs, the
                # next process finds the job FAILED and resumable, not silently PAUSED.
                "owner": _me(),
                "owner_serves": self.serves,
            },
            project.model_dump(mode="json", by_alias=True),
        )
        self.store.update_job(job_id, stage="SNAPSHOT" if options.mode != "cdc-only" else "CDC")
        return job_id

    def _refuse_duplicate_ids(self, project: Project, password: str | None) -> None:
        """A custom `_id` the rows repeat would merge their documents: refused before any
        copy (the source is asked only where no unique key proves the `_id` unique)."""
        if not unproven(project):
            return
        source = open_source(project.source, password)
        try:
            found = duplicate_ids(project, source)
        finally:
            source.close()
        if found:
            raise JobError("; ".join(d.message() for d in found), "invalid")

    def _refuse_overlap(
        self, project: Project, target_uri: str, target_db: str, me: str | None = None
    ) -> None:
        """Two live jobs writing the same collections would undo each other's work."""
        mine = {c.name for c in project.collections}
        for job in self.store.list_jobs():
            if job["status"] not in (*ACTIVE, "PAUSED") or job["target_db"] != target_db:
                continue
            if job["id"] == me:
                continue
            if job["target_uri"] != display_uri(target_uri) or not job["project_doc"]:
                continue
            theirs = {c["name"] for c in job["project_doc"].get("collections", [])}
            shared = sorted(mine & theirs)
            if shared:
                raise JobError(
                    f"job {job['id']} ({job['status']}) already writes {', '.join(shared)} in "
                    f"{target_db}; cancel or complete it first",
                    "conflict",
                )

    def start(
        self,
        project: Project,
        target_uri: str,
        target_db: str,
        options: JobOptions,
        password: str | None = None,
    ) -> str:
        """Create and run a job on a background thread (the server's way)."""
        job_id = self.create(project, target_uri, target_db, options, password)
        self._spawn(job_id, target_uri, password)
        return job_id

    def resume(
        self,
        job_id: str,
        target_uri: str | None = None,
        password: str | None = None,
        *,
        foreground: bool = False,
        on_progress: ProgressCallback | None = None,
        on_error: OnError | None = None,
        max_errors: int | None = None,
    ) -> str:
        """Continue a PAUSED job, or a FAILED one within its recovery window, from its
        checkpoint. In the foreground (the CLI) it returns when the job stops.

        `on_error` (with `max_errors`; None: no limit) or `max_errors` alone change the error
        policy from here on: a job stopped by a bad row under FAIL would stop on it again."""
        self._refuse_another_server(self.job(job_id))
        self._prepare_resume(job_id)
        if on_error is not None or max_errors is not None:
            self._change_policy(job_id, on_error, max_errors)
        uri = self._target_uri(job_id, target_uri)
        if foreground:
            self._claim(job_id)
            return self.run(job_id, uri, password, on_progress)
        self._spawn(job_id, uri, password)
        return "RUNNING"

    def _change_policy(self, job_id: str, on_error: OnError | None, max_errors: int | None) -> None:
        if on_error is not None and on_error not in ("FAIL", "WARN", "SKIP"):
            raise JobError(f"on_error must be FAIL, WARN or SKIP, not {on_error!r}", "invalid")
        if max_errors is not None and max_errors < 1:
            raise JobError("max_errors must be at least 1", "invalid")
        options = dict(self.job(job_id)["options"])
        if on_error is not None:
            options.update(on_error=on_error, max_errors=max_errors)
        else:
            options["max_errors"] = max_errors
        self.store.update_job(job_id, options=options)

    def running_here(self) -> dict[str, threading.Thread]:
        """The jobs this process runs in the background, and their threads."""
        return dict(self._threads)

    def pause(self, job_id: str) -> None:
        job = self.job(job_id)
        if job["status"] != "RUNNING" or job["mode"] == "snapshot":
            raise JobError(
                f"job {job_id} is {job['status']} ({job['mode']}); only a RUNNING continuous or "
                "cdc-only job can be paused",
                "conflict",
            )
        self.store.update_job(job_id, request="PAUSE")

    def cancel(self, job_id: str, password: str | None = None) -> None:
        job = self.job(job_id)
        if job["status"] in ("COMPLETED", "CANCELLED"):
            raise JobError(f"job {job_id} is already {job['status']}", "conflict")
        if job["status"] in ACTIVE:
            self.store.update_job(job_id, request="CANCEL", status="CANCELLING")
            return
        # Nothing runs it: clean up here.
        crash_point("cancel-before-release")
        self.release(job_id, password=password)
        crash_point("cancel-released")
        self.store.update_job(
            job_id,
            status="CANCELLED",
            cdc_status=cancelled_cdc(job),
            ended_at=self.clock(),
        )

    def complete(
        self,
        job_id: str,
        target_uri: str | None = None,
        password: str | None = None,
        *,
        foreground: bool = False,
    ) -> str:
        """Cutover: apply every change committed so far, then release slot and publication."""
        job = self.job(job_id)
        if job["mode"] == "snapshot" or job["status"] in ("COMPLETED", "CANCELLED"):
            raise JobError(
                f"job {job_id} is {job['status']} ({job['mode']}); only a continuous or "
                "cdc-only job that has not ended can be completed",
                "conflict",
            )
        if job["status"] in ACTIVE:
            self.store.update_job(job_id, request="COMPLETE")
            return "COMPLETING"
        self._refuse_another_server(job)  # before the request is recorded
        self.store.update_job(job_id, request="COMPLETE")
        return self.resume(job_id, target_uri, password, foreground=foreground)

    def update(
        self, job_id: str, project: Project, password: str | None = None, *, apply: bool = True
    ) -> UpdatePlan:
        """A new version of a continuous job's project: the plan, and unless `apply` is False
        the plan carried out while CDC goes on (relmig.runtime.mapping_update). A running job
        takes it between two batches; one nothing runs, at once (it stays paused or failed)."""
        job = self.job(job_id)
        old = Project.model_validate(job["project_doc"])
        refusal = update_refusal(old, project) or job_refusal(self.store, job)
        if refusal:
            raise JobError(refusal, "conflict")
        plan = plan_update(old, project)
        if plan.changes_nothing:
            raise JobError(
                f"the project changes no collection of job {job_id}: nothing to update", "invalid"
            )
        if not apply:
            return plan
        added = project.model_copy(
            update={"collections": [project.collection(n) for n in plan.names("add")]}
        )
        # The stored target URI has no secret, and needs none to compare with other jobs'.
        self._refuse_overlap(added, str(job["target_uri"]), job["target_db"], job_id)
        self._refuse_duplicate_ids(project, password)
        script = self.check(project, password)
        if script:
            raise JobError(
                f"the source is not ready for CDC of the new project:\n{script}", "invalid"
            )
        if job["status"] in ACTIVE:
            self.store.request_update(job_id, project.model_dump(mode="json", by_alias=True))
            return plan
        self._refuse_another_server(job)
        source = open_source(project.source, password)
        try:
            take_update(self.store, job_id, project, source, password)
        finally:
            source.close()
        return plan

    def wait(self, job_id: str, timeout: float | None = None) -> None:
        thread = self._threads.get(job_id)
        if thread is not None:
            thread.join(timeout)

    # --- running ------------------------------------------------------------------------------

    def _prepare_resume(self, job_id: str) -> None:
        job = self.job(job_id)
        ok, _, reason = self._resumability(job, self.clock())
        if not ok:
            if reason and "recovery window" in reason:
                reason = self._expire(job, reason)
            raise JobError(f"job {job_id} cannot be resumed: {reason}", "conflict")

    def _expire(self, job: dict[str, Any], reason: str) -> str:
        """Past the window: release the slot (unless configured not to) so WAL is not kept."""
        if not job["options"].get("drop_slot_after_window", True) or job["slot_dropped"]:
            return reason
        try:
            self._drop_slot(job["id"])
        except RelmigError as exc:
            return f"{reason} (could not drop its replication slot: {exc})"
        return reason + "; its replication slot was dropped so the source stops retaining WAL"

    def _drop_slot(
        self, job_id: str, capture: ChangeCapture | None = None, password: str | None = None
    ) -> None:
        """Drop the slot and publication (binlog: nothing to drop); safe to repeat."""
        job = self.job(job_id)
        if job["mode"] == "snapshot" or job["slot_dropped"]:
            return
        own = capture is None
        if capture is None:
            capture = open_capture(Project.model_validate(job["project_doc"]), job_id, password)
        try:
            capture.cleanup()
        finally:
            if own:
                capture.close()
        self.store.update_job(job_id, slot_dropped=True)

    def release(
        self, job_id: str, capture: ChangeCapture | None = None, password: str | None = None
    ) -> None:
        """At cancel and complete: the slot, and what the engine keeps (Kafka: the topic)."""
        if self.job(job_id)["mode"] == "snapshot":
            return
        self._drop_slot(job_id, capture, password)
        engine(engine_of(self.job(job_id))).release(self.store, job_id)

    def _target_uri(self, job_id: str, given: str | None) -> str:
        job = self.job(job_id)
        if given:
            return given
        if job["options"].get("target_uri_has_secret"):
            env = os.environ.get("RELMIG_TARGET_URI")
            if env:
                return env
            raise JobError(
                f"job {job_id}'s target URI has a password, which relmig does not store; "
                "pass the target URI again (--target or RELMIG_TARGET_URI)",
                "invalid",
            )
        return str(job["target_uri"])

    def _spawn(self, job_id: str, target_uri: str, password: str | None) -> None:
        self._claim(job_id)
        thread = threading.Thread(
            target=self.run,
            args=(job_id, target_uri, password),
            name=f"relmig-{job_id}",
            daemon=True,
        )
        self._threads[job_id] = thread
        thread.start()

    def _refuse_another_server(self, job: dict[str, Any]) -> None:
        """A job created or resumed by a `relmig serve` that still runs on this machine is that
        server's: run elsewhere (the CLI's resume), it would lack the server's stored password
        and compete with the server for the job."""
        owner = job["options"].get("owner", "")
        if owner == _me() or not job["options"].get("owner_serves"):
            return
        host, _, pid = owner.partition(":")
        if host == socket.gethostname() and pid.isdigit() and _pid_alive(int(pid)):
            raise JobError(
                f"job {job['id']} belongs to the relmig serve process {pid} on this machine, "
                "which runs it with its connection's stored password: resume it there (the "
                f"Resume button, or POST /api/v1/jobs/{job['id']}/resume), or stop that server "
                "first",
                "conflict",
            )

    def _claim(self, job_id: str) -> None:
        job = self.job(job_id)
        self._refuse_another_server(job)
        mine = job["options"].get("owner") == _me()
        if job["status"] in ACTIVE and job["heartbeat_at"] is not None and not mine:
            beat = aware(job["heartbeat_at"])
            if self.clock() - beat < STALE_AFTER:
                raise JobError(f"job {job_id} is already running", "conflict")
        options = {**job["options"], "owner": _me(), "owner_serves": self.serves}
        self.store.update_job(
            job_id,
            status="RUNNING",
            cdc_status=job["cdc_status"] if job["cdc_status"] != "FAILED" else "RUNNING",
            failure=None,
            stop_reason=None,
            ended_at=None,
            heartbeat_at=utcnow(),
            options=options,
            # A cancel, complete or update outlives the process that was carrying it out; a
            # pause does not (resuming is the opposite of pausing).
            request=job["request"] if job["request"] in ("CANCEL", "COMPLETE", "UPDATE") else None,
        )

    def run(
        self,
        job_id: str,
        target_uri: str,
        password: str | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> str:
        """Run the job on this thread until it ends or is paused; returns its status."""
        if self.job(job_id)["status"] != "RUNNING":
            self._claim(job_id)
        stop_beat = threading.Event()
        beat = threading.Thread(target=self._beat, args=(job_id, stop_beat), daemon=True)
        beat.start()
        try:
            steps = JobSteps(self)
            while (ended := steps.execute(job_id, target_uri, password, on_progress)) == REMAP:
                pass  # the stream goes on with the project as it now is
            return ended
        except BaseException as exc:
            if isinstance(exc, SchemaChanged) and self.job(job_id)["mode"] != "snapshot":
                pause_for_drift(self.store, job_id, exc, utcnow(), password)
                return "PAUSED"
            job = self.store.job(job_id) or {}
            failure = str(exc) or type(exc).__name__
            if isinstance(exc, PrivilegeMissing) and job.get("project_doc"):
                project = Project.model_validate(job["project_doc"])
                failure = privilege_failure(exc, project, job["mode"] == "snapshot", password)
            self.store.fail(job_id, failure, utcnow())
            if job.get("cdc_status") in ("RUNNING", "COMPLETING"):
                self.store.update_job(job_id, cdc_status="FAILED")
            if isinstance(exc, PositionLost):
                self.store.update_job(job_id, slot_dropped=True)
            if isinstance(exc, RelmigError):
                return "FAILED"
            raise
        finally:
            stop_beat.set()
            beat.join()
            self._threads.pop(job_id, None)
            # A job that stopped retries nothing: its failure (if any) says what is wrong.
            with contextlib.suppress(Exception):
                self.store.clear_conditions(job_id)

    def _beat(self, job_id: str, stop: threading.Event) -> None:
        """A beat that fails (the store busy or briefly away) must not end the beating: a job
        without heartbeats is soon taken for dead while it still runs."""
        while not stop.wait(HEARTBEAT_SECONDS):
            try:
                self.store.beat(job_id)
            except Exception as exc:
                log.warning("job %s: heartbeat not recorded: %s", job_id, exc)


# The bounds of every count a job takes (CLI and API alike): past them a job would only
# exhaust the machine or the source.
COUNT_BOUNDS = {
    "parallel": (1, 64, "worker processes"),
    "range_rows": (1, 10**9, "rows per range"),
    "batch_size": (1, 100_000, "rows per batch"),
    "max_errors": (1, 10**9, "errors"),
    "kafka_partitions": (1, 1024, "partitions"),
    "kafka_workers": (0, 64, "sink workers"),
    "recovery_hours": (0, 24 * 30, "hours"),
}


def _minute(moment: dt.datetime) -> dt.datetime:
    return moment.replace(second=0, microsecond=0)


def _parallel_problem(options: JobOptions) -> str | None:
    for name, (low, high, what) in COUNT_BOUNDS.items():
        value = getattr(options, name)
        if value is not None and not low <= value <= high:
            return f"{name} must be from {low:,} to {high:,} {what}, not {value:,}"
    return None


def _me() -> str:
    """This process, as a job's owner."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
