"""The steps of one run of a job, taken in order: capture, target, snapshot, CDC, and how the
run ends (paused, cancelled, completed). What is done is read from the recorded steps, so a
resumed job takes only those left; the lifecycle around a run (create, resume, pause, cancel,
recovery) is relmig.runtime.jobs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from relmig.errors import TargetLost
from relmig.failpoints import crash_point
from relmig.mongo.writer import MongoTarget
from relmig.project.model import Project
from relmig.runtime.control import Stopped, stop_request
from relmig.runtime.engine import CdcContext, engine
from relmig.runtime.gate import IssueGate
from relmig.runtime.mapping_update import take_update
from relmig.runtime.parallel import ParallelSnapshot
from relmig.runtime.policy import ErrorPolicy
from relmig.runtime.recopy import REMAP, settle
from relmig.runtime.retry import LinkRetry
from relmig.runtime.snapshot import (
    ProgressCallback,
    SnapshotOptions,
    SnapshotRun,
    snapshot_plans,
)
from relmig.runtime.store import (
    CAPTURE_STARTED,
    CDC_DRAINED,
    SNAPSHOT_DONE,
    TARGET_PREPARED,
    IssueRecord,
    utcnow,
)
from relmig.source.capture import ChangeCapture, open_capture
from relmig.source.connect import open_source
from relmig.verify.compare import verify

if TYPE_CHECKING:
    from relmig.runtime.jobs import JobManager


class JobSteps:
    def __init__(self, manager: JobManager) -> None:
        self.store = manager.store
        self.clock = manager.clock
        self.job: Callable[[str], dict[str, Any]] = manager.job
        # At cancel and complete: the slot and what the engine keeps.
        self._release = manager.release

    def execute(
        self,
        job_id: str,
        target_uri: str,
        password: str | None,
        on_progress: ProgressCallback | None,
    ) -> str:
        """Take the job's remaining steps; what is done is read from the recorded steps."""
        job = self.job(job_id)
        project = Project.model_validate(job["project_doc"])
        opts = job["options"]
        source = open_source(project.source, password)
        target = MongoTarget(target_uri, job["target_db"])
        capture: ChangeCapture | None = None
        try:
            if job["mode"] != "snapshot":
                capture = open_capture(project, job_id, password)
                self._start_capture(job_id, capture)
                # What a mapping update still owes the target, before its floors are checked.
                project = settle(self.store, job_id, project, source, target)
            policy = ErrorPolicy(opts["on_error"], opts["max_errors"])
            gate = IssueGate(project, target, self.store, job_id, policy)
            self._prepare_target(job_id, project, source, target)
            ended: str | None = None
            ctx = CdcContext(
                job_id,
                project,
                source,
                target,
                self.store,
                capture,
                gate,
                target_uri,
                password,
                self.clock,
            )
            if self.job(job_id)["stage"] == "SNAPSHOT":
                ended = self._snapshot(ctx, on_progress)
                if ended is None:
                    crash_point("snapshot-done")
                    if capture is None:
                        return self._finish(job_id, project, source, target)
                    self.store.record_step(job_id, SNAPSHOT_DONE, stage="CDC")
                    crash_point("cdc-stage-recorded")
            if ended is None and capture is not None:
                if CDC_DRAINED in self.store.steps(job_id):
                    ended = "COMPLETE"  # a complete that stopped after draining: release only
                else:
                    ended = engine(engine_of(self.job(job_id))).run(ctx)
            if ended == "UPDATE":
                update = Project.model_validate(self.job(job_id)["update_doc"])
                take_update(self.store, job_id, update, source, password)
                return REMAP
            if ended == REMAP:
                return REMAP
            if ended == "PAUSE":
                crash_point("pause-stopped")
                self.store.update_job(job_id, status="PAUSED", request=None)
                if job["mode"] != "snapshot" and self.job(job_id)["stage"] == "CDC":
                    self.store.update_job(job_id, cdc_status="PAUSED")
                return "PAUSED"
            if ended == "CANCEL":
                crash_point("cancel-before-release")
                self._release(job_id, capture)
                crash_point("cancel-released")
                self.store.update_job(
                    job_id,
                    status="CANCELLED",
                    cdc_status=cancelled_cdc(self.job(job_id)),
                    request=None,
                    ended_at=utcnow(),
                )
                return "CANCELLED"
            if capture is not None:
                self.store.record_step(job_id, CDC_DRAINED)
                crash_point("complete-drained")
                self._release(job_id, capture)
                crash_point("complete-released")
                self.store.update_job(job_id, cdc_status="COMPLETED", request=None)
            return self._finish(job_id, project, source, target)
        finally:
            if capture is not None:
                capture.close()
            source.close()
            target.close()

    def _start_capture(self, job_id: str, capture: ChangeCapture) -> None:
        """Before the snapshot: the slot (or binlog position) that CDC will stream from."""
        if CAPTURE_STARTED in self.store.steps(job_id):
            return
        position = capture.start()  # idempotent: a slot created before a crash is reused
        crash_point("capture-started")
        self.store.record_step(job_id, CAPTURE_STARTED, position=position)
        crash_point("position-recorded")

    def _prepare_target(
        self, job_id: str, project: Project, source: Any, target: MongoTarget
    ) -> None:
        """Drop (if asked) and index the job's collections exactly once; on every later run,
        check that the target still holds what the checkpoints say was written."""
        if TARGET_PREPARED in self.store.steps(job_id):
            self._check_target(job_id, target)
            return
        opts = self.job(job_id)["options"]
        wanted = opts.get("collections") if self.job(job_id)["mode"] == "snapshot" else None
        target.prepare(snapshot_plans(project, source, target, wanted), drop=opts["drop"])
        crash_point("target-prepared")
        self.store.record_step(job_id, TARGET_PREPARED)

    def _check_target(self, job_id: str, target: MongoTarget) -> None:
        """A target that lost documents since the job last ran is an error, not a state to
        stream on from: CDC would only rewrite the roots that later changes touch."""
        for collection, floor in sorted(self.store.floors(job_id).items()):
            held = target.count(collection)
            if held < floor:
                raise TargetLost(
                    f"the target collection {collection} in {target.db.name} holds {held:,} "
                    f"documents, but this job's checkpoints say it wrote at least {floor:,} "
                    "(deletes applied since included): documents were removed outside this "
                    "job (the collection dropped or emptied?). Nothing was streamed; start a "
                    "new job (with --drop) to copy the source again"
                )

    def _snapshot(self, ctx: CdcContext, on_progress: ProgressCallback | None) -> str | None:
        """The snapshot stage; returns the request that stopped it (PAUSE, CANCEL) or None.
        A lost link is retried from the checkpoints (each range's, in parallel), as in CDC."""
        job_id = ctx.job_id
        opts = self.job(job_id)["options"]
        stop = lambda: stop_request(self.store, job_id)  # noqa: E731
        retry = LinkRetry(self.store, job_id, stop)

        def parallel() -> None:
            work = ParallelSnapshot(
                job_id,
                ctx.project,
                ctx.source,
                ctx.target,
                self.store,
                ctx.gate,
                opts["parallel"],
                opts["range_rows"],
                ctx.target_uri,
                ctx.password,
                opts.get("collections"),
                on_progress or (lambda *_: None),
                stop,
            )
            work.plan()
            engine(engine_of(self.job(job_id))).parallel_snapshot(work, ctx)
            work.finish()

        def serial() -> None:
            snapshot = SnapshotOptions(
                on_error=opts["on_error"],
                max_errors=opts["max_errors"],
                batch_size=opts["batch_size"],
                collections=opts.get("collections"),
            )
            SnapshotRun(
                ctx.project,
                ctx.source,
                ctx.target,
                self.store,
                job_id,
                snapshot,
                on_progress,
                ctx.gate,
                stop=stop,
                checkpointed=retry.healthy,
            ).run()

        try:
            retry.run(parallel if opts.get("parallel") else serial)
        except Stopped as stopped:
            return stopped.request
        return None

    def _finish(self, job_id: str, project: Project, source: Any, target: MongoTarget) -> str:
        options = self.job(job_id)["options"]
        if options.get("verify"):
            report = verify(project, source, target, collections=options.get("collections"))
            self.store.update_job(job_id, verify_result=report.as_dict())
            if not report.ok:
                bad = [c.name for c in report.collections if not c.ok]
                self.store.add_issues(
                    job_id,
                    [
                        IssueRecord(
                            "ERROR",
                            None,
                            None,
                            None,
                            None,
                            f"verify: the target differs from the source in {', '.join(bad)}",
                        )
                    ],
                )
        self.store.update_job(job_id, status="COMPLETED", stage="DONE", ended_at=utcnow())
        return "COMPLETED"


def engine_of(job: dict[str, Any]) -> str:
    return str(job["options"].get("engine") or "embedded")


def cancelled_cdc(job: dict[str, Any]) -> str:
    """A cancelled job's CDC status: cancelled if CDC ever ran (it did not complete: the UI
    showed a green "CDC COMPLETED" for it), never started otherwise (a continuous job cancelled
    during its snapshot)."""
    return "NOT_STARTED" if job["cdc_status"] == "NOT_STARTED" else "CANCELLED"
