"""The snapshot stage with worker processes (`--parallel N`): collections side by side, and a
large root table split into key ranges, each with its own checkpoint.

The job's process plans the ranges once (boundaries from the key's distribution, relmig.runtime
.split), recording them with the SNAPSHOT_PLANNED step in one transaction, then hands them to
worker processes and watches: progress per collection (summed from the ranges' checkpoints),
pause and cancel requests, workers that die. Where the work runs is the CDC engine's choice
(`CdcEngine.parallel_snapshot`): embedded mode runs a pool of local processes here
(`in_processes`), Kafka mode makes the ranges work items of the job's worker group, so
`relmig worker` processes on other machines copy ranges too (docs/kafka.md).

A resume plans nothing again: every range continues from its own checkpoint.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event
from typing import Any

from relmig.errors import RelmigError
from relmig.failpoints import crash_point
from relmig.mongo.writer import MongoTarget
from relmig.project.model import Project
from relmig.runtime.control import Stopped
from relmig.runtime.gate import IssueGate
from relmig.runtime.orphans import watch_parent
from relmig.runtime.range_copy import RangeCopier, shared_policy
from relmig.runtime.snapshot import ProgressCallback, snapshot_plans
from relmig.runtime.split import plan_ranges
from relmig.runtime.store import SNAPSHOT_PLANNED, StateStore
from relmig.source.connect import open_source
from relmig.source.sql import SqlSource

log = logging.getLogger(__name__)

WATCH_SECONDS = 0.5
WORKER_DEATHS = 3  # local worker processes that may die in one run before the job fails


@dataclass(slots=True)
class ParallelSnapshot:
    job_id: str
    project: Project
    source: SqlSource
    target: MongoTarget
    store: StateStore
    gate: IssueGate  # the job's: its budget goes on into CDC
    workers: int
    range_rows: int
    target_uri: str
    password: str | None
    collections: list[str] | None = None
    on_progress: ProgressCallback = field(default=lambda *_: None)
    stop: Callable[[], str | None] = field(default=lambda: None)
    issues_before: int = 0
    _shown: dict[str, tuple[int, bool]] = field(default_factory=dict)

    # --- the coordinator's part, whatever runs the ranges --------------------------------------

    def plan(self) -> None:
        """Split every collection into ranges, once per job."""
        self.issues_before = self.store.issue_count(self.job_id) - self.gate.policy.seen
        if SNAPSHOT_PLANNED in self.store.steps(self.job_id):
            return
        plans = snapshot_plans(self.project, self.source, self.target, self.collections)
        self.store.plan_ranges(self.job_id, plan_ranges(plans, self.source, self.range_rows))
        crash_point("snapshot-ranges-planned")

    def pending(self) -> list[dict[str, Any]]:
        """The ranges not done, largest first (as planned: rows total / ranges), so that the
        long ones start early and the short ones fill the gaps."""
        ranges = self.store.ranges_of(self.job_id)
        progress = self.store.progress_of(self.job_id)
        totals = {p["collection"]: p["rows_total"] or 0 for p in progress}
        pieces: dict[str, int] = {}
        for r in ranges:
            pieces[r["collection"]] = pieces.get(r["collection"], 0) + 1
        todo = [r for r in ranges if not r["done"]]
        todo.sort(key=lambda r: -totals.get(r["collection"], 0) / pieces[r["collection"]])
        return todo

    def report(self) -> None:
        """Progress per collection, summed from its ranges' checkpoints."""
        for p in self.store.progress_of(self.job_id):
            shown = (int(p["rows_done"]), bool(p["done"]))
            if self._shown.get(p["collection"]) != shown:
                self._shown[p["collection"]] = shown
                self.on_progress(p["collection"], shown[0], p["rows_total"], shown[1])

    def finish(self) -> None:
        """The job's budget goes on from what every process recorded."""
        self.report()
        self.gate.policy.seen = self.store.issue_count(self.job_id) - self.issues_before

    # --- embedded: local worker processes -------------------------------------------------------

    def in_processes(self) -> None:
        """Copy every pending range with `workers` local processes; raises Stopped on a pause
        or cancel request, after each process checkpointed its page."""
        context = multiprocessing.get_context("spawn")  # never fork a threaded process
        halt = context.Event()
        deaths = 0
        while todo := self.pending():
            pool = ProcessPoolExecutor(
                min(self.workers, len(todo)),
                mp_context=context,
                initializer=_start_worker,
                initargs=(
                    self.store.url,
                    self.job_id,
                    self.target_uri,
                    self.password,
                    self.issues_before,
                    os.getpid(),
                    halt,
                ),
            )
            try:
                futures = [pool.submit(_copy_range, r["collection"], r["number"]) for r in todo]
                request = self._watch(futures, halt)
            except BrokenProcessPool:
                deaths += 1
                if deaths > WORKER_DEATHS:
                    raise RelmigError(
                        f"snapshot worker processes died {deaths} times (killed? out of "
                        "memory?); the ranges they copied are checkpointed: resume the job"
                    ) from None
                log.warning("job %s: a snapshot worker process died; restarting", self.job_id)
                continue
            finally:
                halt.set()  # anything still running stops after its page (Ctrl-C, an error)
                pool.shutdown(wait=True, cancel_futures=True)
                halt.clear()
            if request:
                raise Stopped(request)

    def _watch(self, futures: list[Future[bool]], halt: Event) -> str | None:
        """Until every range is copied: progress, requests, the first error."""
        running = set(futures)
        while running:
            done, running = wait(running, timeout=WATCH_SECONDS, return_when=FIRST_EXCEPTION)
            self.report()
            failed = next((f.exception() for f in done if f.exception() is not None), None)
            if failed is not None:
                halt.set()
                wait(running)
                raise failed
            request = self.stop()
            if request:
                halt.set()
                wait(running)
                for f in running:
                    if f.exception() is not None:
                        raise f.exception()  # type: ignore[misc]
                return request
        return None


# --- inside a local worker process --------------------------------------------------------------

_copier: RangeCopier | None = None
_halt: Event | None = None


def _start_worker(
    store_url: str,
    job_id: str,
    target_uri: str,
    password: str | None,
    issues_before: int,
    parent: int,
    halt: Event,
) -> None:
    """Open the job's connections once per process. Ctrl-C reaches the whole terminal's
    process group: the job's process stops the workers (`halt`) after their page."""
    global _copier, _halt
    watch_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    store = StateStore(store_url)
    job = store.job(job_id)
    assert job is not None
    project = Project.model_validate(job["project_doc"])
    source = open_source(project.source, password)
    target = MongoTarget(target_uri, job["target_db"])
    gate = IssueGate(project, target, store, job_id, shared_policy(store, job_id, issues_before))
    name = f"{socket.gethostname()}:{os.getpid()}"
    _copier = RangeCopier(project, source, gate, store, job_id, name)
    _halt = halt


def _copy_range(collection: str, number: int) -> bool:
    assert _copier is not None and _halt is not None
    halt = _halt
    return _copier.copy(collection, number, lambda: "HALT" if halt.is_set() else None)
