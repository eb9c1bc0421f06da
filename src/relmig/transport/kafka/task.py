"""What the source task and the sink workers share: the job they serve, how they report, and
the process entry point that the supervisor (and `relmig worker`) runs.

A task reports its heartbeat, figures and last error in the state store, so the supervisor can
check a task on another machine the same way as its own children. Exit codes tell the
supervisor whether a restart can help.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from confluent_kafka import KafkaException

from relmig.errors import PositionLost, RelmigError, SchemaChanged
from relmig.project.model import Project
from relmig.runtime.orphans import watch_parent
from relmig.runtime.policy import ErrorPolicy, JobFailed
from relmig.runtime.recopy import streaming_project
from relmig.runtime.store import StateStore, kafka_tasks, utcnow
from relmig.transport.kafka.topics import KafkaSettings

log = logging.getLogger(__name__)

# Rows of the tasks table that are not sink workers (whose names are free: `relmig worker`).
SOURCE = "source"
SUPERVISOR = "supervisor"


def is_sink(task: str) -> bool:
    return task not in (SOURCE, SUPERVISOR)


EXIT_RETRY = 1  # something failed that a restart may fix (a lost connection, a rebalance)
EXIT_FATAL = 3  # the job must fail: the error policy's limit
EXIT_SCHEMA_CHANGED = 5  # breaking DDL on a mapped table: the job pauses
EXIT_POSITION_LOST = 4  # the source no longer has the job's position


@dataclass(slots=True)
class TaskContext:
    job_id: str
    task: str
    store: StateStore
    job: dict[str, Any]
    project: Project
    settings: KafkaSettings
    target_uri: str

    @classmethod
    def load(
        cls,
        store: StateStore,
        job_id: str,
        task: str,
        target_uri: str | None = None,
        bootstrap: str | None = None,
    ) -> TaskContext:
        job = store.job(job_id)
        if job is None:
            raise RelmigError(
                f"no job {job_id!r} in the state store {store.where}; a worker on another "
                "machine needs the server's state store (RELMIG_STATE_URL)"
            )
        options = job["options"]
        if options.get("engine") != "kafka":
            raise RelmigError(f"job {job_id} does not use the kafka engine")
        if target_uri is None:
            if options.get("target_uri_has_secret"):
                raise RelmigError(
                    f"job {job_id}'s target URI has a password, which relmig does not store; "
                    "pass it with --target or RELMIG_TARGET_URI"
                )
            target_uri = str(job["target_uri"])
        settings = KafkaSettings.of(options)
        if bootstrap:
            settings = dataclasses.replace(settings, bootstrap=bootstrap)
        return cls(
            job_id,
            task,
            store,
            job,
            _streaming(store, job),
            settings,
            target_uri,
        )

    def reloaded(self) -> TaskContext:
        """With the job's project as it streams now (a mapping update swapped a collection in)."""
        job = self.store.job(self.job_id)
        return dataclasses.replace(self, job=job, project=_streaming(self.store, job))

    def policy(self) -> ErrorPolicy:
        options = self.job["options"]
        return ErrorPolicy(options["on_error"], options["max_errors"])


def _streaming(store: StateStore, job: dict[str, Any]) -> Project:
    """The project the tasks apply with: a collection being copied again writes to its
    shadow (relmig.runtime.recopy)."""
    project = Project.model_validate(job["project_doc"])
    return streaming_project(project, store.recopies_of(job["id"]))


class Reporter:
    """A task's row in the state store, written at most once per `interval` (and at once for a
    change of state), so that many tasks do not hammer a SQLite store."""

    def __init__(self, store: StateStore, job_id: str, task: str, interval: float = 1.0) -> None:
        self.store = store
        self.job_id = job_id
        self.task = task
        self.interval = interval
        self._events = 0
        self._since = time.monotonic()
        self._values: dict[str, Any] = {}
        self._waiting = False

    def start(self) -> None:
        now = utcnow()
        self._since = time.monotonic()
        self.store.report_task(
            self.job_id,
            self.task,
            host=socket.gethostname(),
            pid=os.getpid(),
            state="RUNNING",
            started_at=now,
            heartbeat_at=now,
            events_per_second=0.0,
            lag_seconds=None,
            last_error=None,
        )

    def progress(
        self, events: int, newest: dt.datetime | None = None, lag_seconds: float | None = None
    ) -> None:
        self._events += events
        if newest is not None:
            self._values["last_event_at"] = newest
        if lag_seconds is not None:
            self._values["lag_seconds"] = max(lag_seconds, 0.0)
        self.beat()

    def beat(self, force: bool = False, **values: Any) -> None:
        self._values.update(values)
        elapsed = time.monotonic() - self._since
        if not force and elapsed < self.interval:
            return
        self.store.report_task(
            self.job_id,
            self.task,
            heartbeat_at=utcnow(),
            events_total=kafka_tasks.c.events_total + self._events,
            events_per_second=self._events / elapsed if elapsed > 0 else 0.0,
            **self._values,
        )
        self._events = 0
        self._since = time.monotonic()
        self._values = {}

    def waiting(self, reason: str | None, link: str | None = "kafka") -> None:
        """Blocked on something outside the task (by default Kafka unreachable); None: no
        longer."""
        if reason is None and not self._waiting:
            return
        self._waiting = reason is not None
        self.beat(
            force=True,
            state="WAITING" if reason else "RUNNING",
            last_error=reason,
            error_link=link if reason else None,
        )

    def ended(self, state: str, error: str | None = None, link: str | None = None) -> None:
        values: dict[str, Any] = {"state": state}
        if error is not None:
            values.update(last_error=error, error_link=link)
        self.beat(force=True, **values)


class Task(Protocol):
    def run(self) -> None: ...


def run_task(task: Task, reporter: Reporter) -> int:
    """Run until stopped or failed; the exit code says whether a restart can help."""
    reporter.start()
    try:
        task.run()
    except PositionLost as exc:
        reporter.ended("FAILED", str(exc))
        return EXIT_POSITION_LOST
    except SchemaChanged as exc:
        reporter.ended("FAILED", str(exc))
        return EXIT_SCHEMA_CHANGED
    except JobFailed as exc:
        reporter.ended("FAILED", str(exc))
        return EXIT_FATAL
    except Exception as exc:
        if not isinstance(exc, RelmigError | KafkaException):
            log.exception("task %s failed", reporter.task)
        reporter.ended("FAILED", str(exc) or type(exc).__name__, link_of(exc))
        return EXIT_RETRY
    reporter.ended("STOPPED")
    return 0


def link_of(exc: BaseException) -> str | None:
    """The link a task's error is a failure of (relmig.links), None if it is none."""
    if isinstance(exc, RelmigError):
        return exc.link
    return "kafka" if isinstance(exc, KafkaException) else None


def stop_on_signals() -> threading.Event:
    """SIGTERM and SIGINT ask the task to finish its batch and stop."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def build(
    kind: str, ctx: TaskContext, reporter: Reporter, stop: threading.Event, **kw: Any
) -> Task:
    if kind == "source":
        from relmig.transport.kafka.source_task import SourceTask

        return SourceTask(ctx, reporter, stop)
    from relmig.transport.kafka.sink_worker import SinkWorker

    return SinkWorker(ctx, reporter, stop, **kw)


def main(argv: list[str] | None = None) -> int:
    """`python -m relmig.transport.kafka source|worker --job ID --task NAME [--parent PID]`."""
    parser = argparse.ArgumentParser(prog="python -m relmig.transport.kafka")
    parser.add_argument("kind", choices=("source", "worker"))
    parser.add_argument("--job", required=True)
    parser.add_argument("--task", required=True)
    parser.add_argument("--parent", type=int)
    parser.add_argument("--instance-id")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format=f"%(asctime)s {args.task} %(message)s")
    if args.parent:
        # A supervised task dies with its supervisor: a new one will run the job's tasks.
        watch_parent(args.parent, EXIT_RETRY)
    stop = stop_on_signals()
    store = StateStore()
    try:
        try:
            ctx = TaskContext.load(store, args.job, args.task, os.environ.get("RELMIG_TARGET_URI"))
        except RelmigError as exc:
            log.error("%s", exc)
            return EXIT_RETRY
        reporter = Reporter(store, args.job, args.task)
        extra = {"instance_id": args.instance_id} if args.kind == "worker" else {}
        return run_task(build(args.kind, ctx, reporter, stop, **extra), reporter)
    finally:
        store.close()
