"""One key range of a parallel snapshot, copied by whichever process holds its work item.

A range is copied page by page from its own checkpoint (the last root key written) to its upper
bound, with the snapshot's pipeline: the next page is built while the previous one is written and
checkpointed. Each checkpoint moves the range from the key it expects to the page's last key in
one transaction with the collection's progress and floor (`StateStore.range_checkpoint`). If
the range is no longer where this process left it, another process holds it (a work item
delivered twice, a worker that lost its partitions), and this one stops without counting the
page: every page is counted once however often it is written, and writes are replace-by-key.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from relmig.documents.builder import DocumentBuilder, Page
from relmig.failpoints import crash_point
from relmig.project.model import Project
from relmig.runtime.control import Stopped
from relmig.runtime.gate import IssueGate
from relmig.runtime.keys import dumps_key, loads_key
from relmig.runtime.policy import ErrorPolicy
from relmig.runtime.snapshot import pipeline, snapshot_plans
from relmig.runtime.store import StateStore
from relmig.source.sql import SqlSource


class RangeTaken(Exception):
    """Another process moved this range's checkpoint on: it holds the range now."""


def shared_policy(store: StateStore, job_id: str, issues_before: int) -> ErrorPolicy:
    """The job's error policy with one budget for all of a parallel snapshot's processes: the
    problems recorded since the snapshot began (`issues_before` were recorded before)."""
    options = store.job(job_id)["options"]  # type: ignore[index]
    return ErrorPolicy(
        options["on_error"],
        options["max_errors"],
        shared=lambda: store.issue_count(job_id) - issues_before,
    )


class RangeCopier:
    def __init__(
        self,
        project: Project,
        source: SqlSource,
        gate: IssueGate,
        store: StateStore,
        job_id: str,
        worker: str,
    ) -> None:
        """`worker` names this process in the ranges it checkpoints."""
        self.project = project
        self.source = source
        self.gate = gate
        self.store = store
        self.job_id = job_id
        self.worker = worker
        self.batch_size = int(store.job(job_id)["options"]["batch_size"])  # type: ignore[index]
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="relmig-writer")

    def close(self) -> None:
        self._writer.shutdown()

    def copy(self, collection: str, number: int, stop: Callable[[], str | None]) -> bool:
        """Copy the range from its checkpoint to its end; True once it is done (by this
        process or another), False when `stop` asked to stop or another process holds it."""
        ranges = self.store.ranges_of(self.job_id, collection)
        row = next((r for r in ranges if r["number"] == number), None)
        if row is None:
            raise LookupError(f"job {self.job_id} has no range {number} of {collection}")
        if row["done"]:
            return True
        (plan,) = snapshot_plans(self.project, self.source, self.gate.target, [collection])
        start = row["last_key"] or row["lower"]
        upto = loads_key(row["upper"]) if row["upper"] else None
        at = _Checkpoint(self, collection, number, row["last_key"])
        pages = DocumentBuilder(plan, self.source).scan(
            loads_key(start) if start else None, self.batch_size, upto=upto
        )
        try:
            pipeline(pages, at.write, self._writer, stop, _ignore)
            at.move(at.key, 0, 0, done=True)
        except Stopped:
            return False
        except RangeTaken:
            return self._done(collection, number)
        return True

    def _done(self, collection: str, number: int) -> bool:
        ranges = self.store.ranges_of(self.job_id, collection)
        return any(r["number"] == number and r["done"] for r in ranges)


class _Checkpoint:
    """Where one copy of a range stands; pages are written and checkpointed in order, on the
    copier's writer thread."""

    def __init__(self, copier: RangeCopier, collection: str, number: int, key: str | None) -> None:
        self.copier = copier
        self.collection = collection
        self.number = number
        self.key = key

    def write(self, page: Page) -> int:
        c = self.copier
        written = c.gate.write(self.collection, page.built)
        crash_point("snapshot-range-written")
        last = dumps_key(page.last_key) if page.last_key is not None else self.key
        self.move(last, page.rows, written)
        return page.rows

    def move(self, last: str | None, rows: int, written: int, done: bool = False) -> None:
        c = self.copier
        if not c.store.range_checkpoint(
            c.job_id,
            self.collection,
            self.number,
            self.key,
            last,
            rows,
            written,
            done=done,
            worker=c.worker,
        ):
            raise RangeTaken(f"range {self.number} of {self.collection}")
        self.key = last


def _ignore(_: Any) -> None:
    return None
