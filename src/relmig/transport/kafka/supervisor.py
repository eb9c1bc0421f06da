"""The supervisor: the CDC stage of a Kafka-mode job, in the job's thread.

It runs the source task and the sink workers as child processes (a stuck process can be
killed, unlike a thread, and a killed source task releases the slot), checks each one every
second for liveness (alive, heartbeat fresh), progress (partitions with lag move) and its last
error, and restarts what failed with exponential backoff. While anything is unhealthy (a task
down, Kafka or the source unreachable) the job keeps trying for its recovery window
(`recovery_hours`, 24 h by default, measured on the injectable clock); past it the job fails
with the reason, and its slot is dropped unless configured otherwise.

`KafkaRun.run()` has the CdcEngine contract: it returns "PAUSE", "CANCEL" or "COMPLETE".
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from relmig.errors import PositionLost, RelmigError, SchemaChanged
from relmig.failpoints import crash_point
from relmig.runtime.engine import CdcContext
from relmig.runtime.records.recopies import pending
from relmig.runtime.store import IssueRecord, StateStore, aware, utcnow
from relmig.source.capture import ChangeCapture
from relmig.transport.kafka.lag import LagProbe, PartitionLag
from relmig.transport.kafka.task import (
    EXIT_FATAL,
    EXIT_POSITION_LOST,
    EXIT_SCHEMA_CHANGED,
    SOURCE,
    SUPERVISOR,
    is_sink,
)
from relmig.transport.kafka.topics import (
    Cluster,
    KafkaRefused,
    KafkaSettings,
    KafkaUnavailable,
)

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
HEALTH_REFRESH_SECONDS = 5.0


class TaskFailed(RelmigError):
    """A task hit an error that a restart cannot fix (DDL, the error policy's limit)."""


class RecoveryExpired(RelmigError):
    """The job stayed unhealthy for longer than its recovery window."""


@dataclass(slots=True)
class SupervisorSettings:
    check_seconds: float = 1.0
    stall_seconds: float = 60.0  # no heartbeat, or lag that does not move, for this long
    backoff: tuple[float, ...] = (1, 2, 4, 8, 16, 32, 60)
    steady_seconds: float = 30.0  # this long without trouble resets a task's backoff
    measure_seconds: float = 5.0  # consumer lag and slot lag
    stop_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class Problem:
    """Something the health check found wrong; with a link (relmig.links) it is a condition of
    the job while it lasts."""

    text: str
    link: str | None = None
    retry_at: dt.datetime | None = None
    attempts: int = 0


@dataclass(slots=True)
class Child:
    name: str
    kind: str  # "source" or "worker" (or "supervisor": the job-level health check)
    instance_id: str | None = None  # static group membership (workers of the CDC stage)
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    failures: int = 0  # in a row; picks the backoff
    restarts: int = 0
    retry_at: float = 0.0
    retry_wall: dt.datetime | None = None  # retry_at on the job's clock
    problem: str | None = None
    link: str | None = None  # of its last failure
    health: str | None = None
    reported: float = 0.0


@dataclass(slots=True)
class _Progress:
    committed: int | None
    since: float = field(default_factory=time.monotonic)


class KafkaRun:
    def __init__(self, ctx: CdcContext, settings: SupervisorSettings | None = None) -> None:
        assert ctx.capture is not None  # Kafka mode runs continuous and cdc-only jobs
        self.job_id = job_id = ctx.job_id
        self.project = ctx.project
        self.store = store = ctx.store
        self.capture: ChangeCapture = ctx.capture
        self.target_uri = ctx.target_uri
        self.password = ctx.password
        self.clock = ctx.clock
        self.settings = settings or SupervisorSettings()
        options = store.job(job_id)["options"]
        self.options = options
        self.kafka = KafkaSettings.of(options)
        self.window = dt.timedelta(hours=options.get("recovery_hours", 24.0))
        self.me = Child(SUPERVISOR, SUPERVISOR)
        self.children = self._children()
        self.cluster = Cluster(self.kafka, job_id)
        self.topic = self.cluster.topic  # the topic whose partitions the workers must move
        self.marker = ""  # how the workers report that topic's partitions in `assigned`
        self._probe: LagProbe | None = None
        self._topic_ready = False
        self._measured = 0.0
        self._measured_problems: list[Problem] = []
        self._raised: dict[str, tuple[dt.datetime | None, int]] = {}
        self._raised_at = 0.0
        self._progress: dict[int, _Progress] = {}
        self._stalled: dict[int, str] = {}
        self._failing_since: dt.datetime | None = None
        self._mark: str | None = None

    def _children(self) -> list[Child]:
        workers = range(1, self.kafka.workers + 1)
        return [Child(SOURCE, SOURCE)] + [
            Child(f"worker-{i}", "worker", f"{self.job_id}-worker-{i}") for i in workers
        ]

    # --- the loop -----------------------------------------------------------------------------

    def run(self) -> str:
        self._begin()
        self.store.report_task(
            self.job_id, SUPERVISOR, host=socket.gethostname(), pid=os.getpid(), state="RUNNING"
        )
        for child in self.children:
            self.store.report_task(self.job_id, child.name, state="STARTING", health=None)
        try:
            while True:
                self._tick()
                ended = self._requests()
                if ended:
                    return ended
                time.sleep(self.settings.check_seconds)
        finally:
            self._stop_children()
            if self._probe is not None:
                self._probe.close()

    def _tick(self) -> None:
        problems: list[Problem] = []
        if not self._topic_ready:
            try:
                self.cluster.ensure_topic(self.topic)
                self._ready()
                self._topic_ready = True
            except KafkaUnavailable as exc:
                problems.append(Problem(str(exc), exc.link))
        if self._topic_ready:
            if time.monotonic() - self._measured >= self.settings.measure_seconds:
                self._measured = time.monotonic()
                self._measured_problems = self._measure()
            problems += self._measured_problems
            rows = {r["task"]: r for r in self.store.kafka_tasks_of(self.job_id)}
            for child in self.children:
                problem = self._check(child, rows.get(child.name, {}))
                if problem:
                    problems.append(replace(problem, text=f"{child.name}: {problem.text}"))
        self._conditions(problems)
        self._judge([p.text for p in problems])

    def _conditions(self, problems: list[Problem]) -> None:
        """The links failing now become the job's conditions (the first problem per link),
        the others are cleared; written when they change and every few seconds."""
        failing: dict[str, Problem] = {}
        for p in problems:
            if p.link is not None:
                failing.setdefault(p.link, p)
        seen = {link: (p.retry_at, p.attempts) for link, p in failing.items()}
        now = time.monotonic()
        if seen == self._raised and now - self._raised_at < HEALTH_REFRESH_SECONDS:
            return
        for link, p in failing.items():
            self.store.raise_condition(self.job_id, link, p.text, p.retry_at, p.attempts)
        if set(seen) != set(self._raised) or not seen:
            self.store.clear_conditions(self.job_id, keep=set(seen))
        self._raised, self._raised_at = seen, now

    def _judge(self, problems: list[str]) -> None:
        """Start or stop the recovery clock, report the job's health; fail the job once the
        clock ran out."""
        if not problems:
            self._failing_since = None
            self._health(self.me, "ok")
            return
        now = self.clock()
        if self._failing_since is None:
            self._failing_since = now
            log.warning("job %s: %s", self.job_id, "; ".join(problems))
        since = self._failing_since
        self._health(
            self.me, f"unhealthy since {since:%Y-%m-%d %H:%M:%S} UTC: " + "; ".join(problems)
        )
        if now - since > self.window:
            self._expire("; ".join(problems))

    # --- tasks --------------------------------------------------------------------------------

    def _check(self, child: Child, row: dict[str, Any]) -> Problem | None:
        """Start, restart or kill the child as needed; what is wrong with it, if anything."""
        now = time.monotonic()
        if child.proc is None:
            if now < child.retry_at:
                return Problem(
                    f"restarting in {child.retry_at - now:.0f}s; {child.problem}",
                    child.link,
                    child.retry_wall,
                    child.failures,
                )
            self._start(child)
            return self._recovering(child)
        code = child.proc.poll()
        if code is not None:
            last = self._row(child)
            error = last.get("last_error")
            if code == EXIT_POSITION_LOST:
                raise PositionLost(error or "the source lost the job's position")
            if code == EXIT_FATAL:
                raise TaskFailed(f"{child.name}: {error}")
            if code == EXIT_SCHEMA_CHANGED:  # its drift is recorded: the job pauses
                raise SchemaChanged(error or "a mapped table changed at the source")
            how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
            how += f": {error}" if error else ""
            return self._failed(child, how, last.get("error_link"))
        beat = row.get("heartbeat_at")
        quiet = (utcnow() - aware(beat)).total_seconds() if beat else now - child.started
        if (
            quiet > self.settings.stall_seconds
            and now - child.started > self.settings.stall_seconds
        ):
            self._kill(child)
            return self._failed(child, f"no heartbeat for {quiet:.0f}s (killed)")
        owned = (row.get("assigned") or "").split(",")
        assigned = {int(p[len(self.marker) :]) for p in owned if p[len(self.marker) :].isdigit()}
        stalled = sorted(assigned & set(self._stalled))
        if child.kind == "worker" and stalled:
            self._kill(child)
            reason = self._stalled[stalled[0]]
            for p in stalled:  # the next worker gets a full period to move them
                self._progress.pop(p, None)
                self._stalled.pop(p)
            return self._failed(child, reason + " (killed)")
        if now - child.started > self.settings.steady_seconds:
            child.failures = 0
        problem = (
            Problem(f"waiting: {row['last_error']}", row.get("error_link"))
            if row.get("state") == "WAITING"
            else self._recovering(child)
        )
        self._health(child, problem.text if problem else "ok")
        return problem

    def _recovering(self, child: Child) -> Problem | None:
        """A restarted task counts as healthy only once it ran steadily: a task that fails
        again at once must not reset the job's recovery clock (nor clear its condition)."""
        if not child.failures:
            return None
        return Problem(f"restarted after: {child.problem}", child.link, None, child.failures)

    def _start(self, child: Child) -> None:
        if child.started:
            child.restarts += 1
        child.proc = self._launch(child)
        if child.restarts:
            crash_point("kafka-task-restarted")
        child.started = time.monotonic()
        self.store.report_task(
            self.job_id,
            child.name,
            state="STARTING",
            pid=child.proc.pid,
            restarts=child.restarts,
            assigned=None,
        )

    def _launch(self, child: Child) -> subprocess.Popen[bytes]:
        """`python -m relmig.transport.kafka`; secrets go in the environment, not the argv."""
        cmd = [sys.executable, "-m", "relmig.transport.kafka", child.kind]
        cmd += ["--job", self.job_id, "--task", child.name, "--parent", str(os.getpid())]
        if child.instance_id:
            cmd += ["--instance-id", child.instance_id]
        env = {**os.environ, "RELMIG_STATE_URL": self.store.url}
        env["RELMIG_TARGET_URI"] = self.target_uri
        if self.password is not None:
            env[self.project.source.password_env] = self.password
        # A session of its own: a Ctrl-C meant for the CLI reaches the supervisor only, which
        # stops the tasks in order.
        return subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )

    def _failed(self, child: Child, reason: str, link: str | None = None) -> Problem:
        delay = self.settings.backoff[min(child.failures, len(self.settings.backoff) - 1)]
        child.failures += 1
        child.proc = None
        child.problem = reason
        child.link = link
        child.retry_at = time.monotonic() + delay
        child.retry_wall = self.clock() + dt.timedelta(seconds=delay)
        log.warning("job %s: task %s %s; restart in %ss", self.job_id, child.name, reason, delay)
        self._health(child, f"{reason}; restart in {delay:g}s")
        return Problem(reason, link, child.retry_wall, child.failures)

    def _health(self, child: Child, result: str) -> None:
        """Recorded when it changes, and every few seconds so `checked_at` shows we look."""
        now = time.monotonic()
        if result == child.health and now - child.reported < HEALTH_REFRESH_SECONDS:
            return
        child.health, child.reported = result, now
        self.store.report_task(
            self.job_id, child.name, health=result, checked_at=utcnow(), restarts=child.restarts
        )

    def _row(self, child: Child) -> dict[str, Any]:
        rows = self.store.kafka_tasks_of(self.job_id)
        return next((r for r in rows if r["task"] == child.name), {})

    def _kill(self, child: Child) -> None:
        assert child.proc is not None
        child.proc.kill()
        child.proc.wait()

    def _stop_children(self) -> None:
        """The source first, so the workers see everything it published; then the workers,
        which finish and commit their batch."""
        for kind in (SOURCE, "worker"):
            running = [c for c in self.children if c.kind == kind and c.proc is not None]
            for child in running:
                child.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
            deadline = time.monotonic() + self.settings.stop_seconds
            for child in running:
                proc = child.proc
                assert proc is not None
                try:
                    proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                child.proc = None
        for child in (self.me, *self.children):
            self.store.report_task(self.job_id, child.name, state="STOPPED", health=None)
        self.store.clear_conditions(self.job_id)
        self._raised = {}

    # --- measurements -------------------------------------------------------------------------

    def _measure(self) -> list[Problem]:
        """Consumer lag per partition, the job's lag and slot lag; partitions that stall."""
        problems = []
        try:
            if self._probe is None:
                self._probe = LagProbe(self.kafka, self.job_id, self.topic)
            parts = self._probe.measure()
        except KafkaUnavailable as exc:
            return [Problem(str(exc), exc.link)]
        self.store.save_partitions(
            self.job_id,
            [
                {
                    "partition": p.partition,
                    "end_offset": p.end_offset,
                    "committed": p.committed,
                    "lag": p.lag,
                }
                for p in parts
            ],
        )
        self._stalled = {}
        for p in parts:
            seen = self._progress.get(p.partition)
            if seen is None or seen.committed != p.committed or p.lag == 0:
                self._progress[p.partition] = _Progress(p.committed)
            elif time.monotonic() - seen.since > self.settings.stall_seconds:
                self._stalled[p.partition] = (
                    f"partition {p.partition} has not moved for "
                    f"{time.monotonic() - seen.since:.0f}s with {p.lag} message(s) to apply"
                )
        problems += [Problem(text) for text in self._stalled.values()]
        values = self._figures(parts)
        position = self.store.job(self.job_id)["position"]
        try:
            values["slot_lag_bytes"] = self.capture.lag(position).bytes
        except RelmigError as exc:
            problems.append(Problem(f"source: {exc}", exc.link))
        self.store.update_job(self.job_id, **values)
        return problems

    def _figures(self, parts: list[PartitionLag]) -> dict[str, Any]:
        """The job's lag, end to end: how old the newest change the sinks applied was when
        they applied it; zero once nothing waits in any partition."""
        if all(p.lag == 0 for p in parts):
            return {"lag_seconds": 0.0}
        rows = self.store.kafka_tasks_of(self.job_id)
        lag = max((r["lag_seconds"] or 0.0 for r in rows if is_sink(r["task"])), default=0.0)
        return {"lag_seconds": lag}

    # --- what the snapshot stage does differently (relmig.transport.kafka.snapshot_stage) -----

    def _begin(self) -> None:
        self.store.update_job(self.job_id, cdc_status="RUNNING")

    def _ready(self) -> None:
        """The topic exists (once per run)."""

    # --- requests and endings -----------------------------------------------------------------

    def _requests(self) -> str | None:
        job = self.store.job(self.job_id)
        request = job["request"]
        if request in ("PAUSE", "CANCEL", "UPDATE"):
            self._stop_children()
            return request
        if request != "COMPLETE" or pending(self.store.recopies_of(self.job_id)):
            return None  # a cutover waits for a mapping update's copies
        try:
            if self._mark is None:
                self._mark = self.capture.mark()
                self.store.update_job(self.job_id, cdc_status="COMPLETING")
                return None
            if not self.capture.reached(job["position"], self._mark):
                return None
            if self._probe is None or any(p.lag for p in self._probe.measure()):
                return None
        except RelmigError as exc:  # the source or Kafka is away: the health check says so
            log.warning("job %s: completing: %s", self.job_id, exc)
            return None
        self._stop_children()
        return "COMPLETE"

    def _expire(self, reason: str) -> None:
        self._stop_children()
        since = self._failing_since
        assert since is not None
        message = (
            f"Kafka mode: the job has been unhealthy since {since:%Y-%m-%d %H:%M:%S} UTC, "
            f"longer than its recovery window of {self.window.total_seconds() / 3600:g} h; "
            f"last problem: {reason}"
        )
        if self.options.get("drop_slot_after_window", True):
            try:
                self.capture.cleanup()
                self.store.update_job(self.job_id, slot_dropped=True)
                message += "; its replication slot was dropped so the source stops retaining WAL"
            except RelmigError as exc:
                message += f"; its replication slot could not be dropped: {exc}"
        raise RecoveryExpired(message)


def drop_topics(store: StateStore, job_id: str, cluster: Cluster | None = None) -> None:
    """On cancel and complete, unless the job keeps them; a failure is an Issue, not an error
    (the job is over either way, and Kafka may be gone for good)."""
    options = store.job(job_id)["options"]
    cluster = cluster or Cluster(KafkaSettings.of(options), job_id)
    if cluster.settings.keep_topics:
        return
    try:
        cluster.delete()
    except (KafkaUnavailable, KafkaRefused) as exc:
        store.add_issues(
            job_id, [IssueRecord("WARNING", None, None, None, None, f"{exc}; delete it by hand")]
        )
