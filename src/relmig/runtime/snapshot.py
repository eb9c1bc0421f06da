"""The snapshot job: drive the document builder over every root key and write in batches.

Reading and building run on the calling thread while the previous batch is written on another,
so the source and the target work at the same time. A batch is checkpointed (last root key per
collection) only after the target has it, so a killed snapshot resumes where it stopped.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from relmig.documents.builder import DocumentBuilder, Page
from relmig.documents.plan import RootPlan, compile_collection
from relmig.failpoints import crash_point
from relmig.mongo.writer import MongoTarget
from relmig.project.model import Project
from relmig.runtime.control import Stopped
from relmig.runtime.gate import IssueGate
from relmig.runtime.keys import dumps_key, loads_key
from relmig.runtime.policy import ErrorPolicy, OnError
from relmig.runtime.store import StateStore
from relmig.source.sql import SqlSource

# (collection, rows done, rows expected or None, whether the collection is finished)
ProgressCallback = Callable[[str, int, int | None, bool], None]


def pipeline(
    pages: Iterable[Page],
    write: Callable[[Page], int],
    writer: ThreadPoolExecutor,
    stop: Callable[[], str | None],
    progress: Callable[[int], None],
) -> int:
    """Build the next page on this thread while `writer` writes (and checkpoints) the previous
    one, so the source and the target work at the same time; returns the rows written.

    `stop` is asked after every page; a request (PAUSE, CANCEL) writes and checkpoints what
    was built, then raises Stopped."""
    done = 0
    pending: deque[Future[int]] = deque()
    try:
        for page in pages:
            pending.append(writer.submit(write, page))
            request = stop()
            if request:
                while pending:
                    done += pending.popleft().result()
                raise Stopped(request)
            while len(pending) > 1:
                done += pending.popleft().result()
                progress(done)
        while pending:
            done += pending.popleft().result()
            progress(done)
    finally:
        for fut in pending:
            fut.cancel()
    return done


def snapshot_plans(
    project: Project, source: SqlSource, target: MongoTarget, wanted: list[str] | None = None
) -> list[RootPlan]:
    """The plans of the collections a snapshot copies (`wanted`: only these)."""
    return [
        compile_collection(project, c, source, decimals=target.decimals)
        for c in project.collections
        if wanted is None or c.name in wanted
    ]


def rows_totals(plans: list[RootPlan], source: SqlSource) -> dict[str, int | None]:
    """The roots each collection's snapshot copies, for progress, by collection: counted
    under a filter, else the catalog's estimate (None: unknown), read for all tables in one
    query (a thousand small tables paid a catalog round trip each)."""
    estimates = source.estimate_rows([p.node.table for p in plans if not p.node.where])
    totals: dict[str, int | None] = {}
    for plan in plans:
        table = plan.node.table
        total = source.count(table, plan.node.where) if plan.node.where else estimates[table.id]
        if plan.limit is not None:
            total = plan.limit if total is None else min(total, plan.limit)
        totals[plan.collection.name] = total
    return totals


def _never() -> None:
    return None


@dataclass(slots=True)
class SnapshotOptions:
    drop: bool = False
    on_error: OnError = "FAIL"
    max_errors: int | None = None
    batch_size: int = 1000
    collections: list[str] | None = None


@dataclass(slots=True)
class SnapshotResult:
    rows: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    seconds: float = 0.0


class SnapshotRun:
    def __init__(
        self,
        project: Project,
        source: SqlSource,
        target: MongoTarget,
        store: StateStore,
        job_id: str,
        options: SnapshotOptions,
        on_progress: ProgressCallback | None = None,
        gate: IssueGate | None = None,
        stop: Callable[[], str | None] | None = None,
        checkpointed: Callable[[], None] | None = None,
    ) -> None:
        """`gate` lets a continuous job share one error budget between snapshot and CDC;
        `stop` returns a pause or cancel request, checked after every page; `checkpointed` is
        called once a page is in the target and checkpointed (the links work)."""
        self.stop = stop
        self.checkpointed = checkpointed or (lambda: None)
        self.project = project
        self.source = source
        self.target = target
        self.store = store
        self.job_id = job_id
        self.options = options
        self.on_progress = on_progress or (lambda *_: None)
        self.gate = gate or IssueGate(
            project, target, store, job_id, ErrorPolicy(options.on_error, options.max_errors)
        )
        self.policy = self.gate.policy
        self._finished: set[str] = set()  # collections whose last page's checkpoint said done

    def plans(self) -> list[RootPlan]:
        return snapshot_plans(self.project, self.source, self.target, self.options.collections)

    def run(self) -> SnapshotResult:
        """Copy every collection from its checkpoint on; the target must be prepared (the job
        does that once, see JobManager)."""
        started = time.monotonic()
        plans = self.plans()
        result = SnapshotResult()
        checkpoints = {p["collection"]: p for p in self.store.progress_of(self.job_id)}
        unstarted = [p for p in plans if p.collection.name not in checkpoints]
        totals = rows_totals(unstarted, self.source) if unstarted else {}
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="relmig-writer") as writer:
            for plan in plans:
                name = plan.collection.name
                saved = checkpoints.get(name)
                result.rows[name] = self._collection(plan, saved, totals.get(name), writer)
        result.errors = self.policy.seen
        result.seconds = time.monotonic() - started
        return result

    def _collection(
        self,
        plan: RootPlan,
        saved: dict[str, Any] | None,
        total: int | None,
        writer: ThreadPoolExecutor,
    ) -> int:
        """`total`: the roots to copy of a collection not started (a started one has its own
        recorded)."""
        name = plan.collection.name
        if saved is None:
            self.store.start_collection(self.job_id, name, plan.node.table.id, total)
            after, done_rows = None, 0
        else:
            if saved["done"]:
                self.on_progress(name, saved["rows_done"], saved["rows_total"], True)
                return int(saved["rows_done"])
            after = loads_key(saved["last_key"]) if saved["last_key"] else None
            done_rows, total = int(saved["rows_done"]), saved["rows_total"]
        self.on_progress(name, done_rows, total, False)
        builder = DocumentBuilder(plan, self.source)
        copied = pipeline(
            builder.scan(after, self.options.batch_size),
            lambda page: self._write_page(name, page),
            writer,
            self.stop or _never,
            lambda rows: self.on_progress(name, done_rows + rows, total, False),
        )
        if name not in self._finished:  # no last page marked it (an empty or resumed table)
            self.store.checkpoint(self.job_id, name, None, 0, done=True)
        self.on_progress(name, done_rows + copied, total, True)
        return done_rows + copied

    def _write_page(self, collection: str, page: Page) -> int:
        """Write through the error policy, then checkpoint. Runs on the writer thread. The
        last page's checkpoint also marks the collection done: one state-store transaction
        per collection fewer, which a thousand small tables pay a thousand times."""
        written = self.gate.write(collection, page.built)
        crash_point("snapshot-page-written")
        last = dumps_key(page.last_key) if page.last_key is not None else None
        self.store.checkpoint(
            self.job_id, collection, last, page.rows, done=page.last, written=written
        )
        if page.last:
            self._finished.add(collection)
        self.checkpointed()
        return page.rows
