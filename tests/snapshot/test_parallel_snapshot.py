"""A parallel snapshot (worker processes, tables split into key ranges) equals the serial one.

Judged by the oracle (verify) and by the documents themselves against a serial run of the same
project, and by what the store says: each split table's ranges hold equal row counts however
skewed its keys, every document is counted once in the collection's floor and progress, and
the progress stays one row per collection.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

from relmig.mongo.writer import MongoTarget
from relmig.project.model import CalculatedField, CustomId, Project
from relmig.runtime.gate import IssueGate
from relmig.runtime.jobs import JobManager, JobOptions
from relmig.runtime.parallel import ParallelSnapshot
from relmig.runtime.policy import ErrorPolicy
from relmig.runtime.store import SNAPSHOT_PLANNED, StateStore
from relmig.source.connect import open_source
from relmig.verify.compare import verify
from snapshot_jobs import run_snapshot

pytestmark = pytest.mark.services

RANGE_ROWS = 250


def snapshot(
    source, target: MongoTarget, store: StateStore, project: Project | None = None, **options: Any
) -> str:
    project = project or source.project()
    manager = JobManager(store)
    job_id = manager.create(
        project,
        target.uri,
        target.db.name,
        JobOptions(mode="snapshot", on_error="SKIP", batch_size=100, **options),
    )
    assert manager.run(job_id, target.uri) == "COMPLETED", store.job(job_id)["failure"]
    return job_id


def documents(target: MongoTarget) -> dict[str, list[dict[str, Any]]]:
    return {
        name: sorted(target.db[name].find({}), key=lambda d: repr(d["_id"]))
        for name in sorted(target.db.list_collection_names())
    }


def test_parallel_equals_serial(split_source, targets, store) -> None:
    serial, parallel = targets(), targets()
    snapshot(split_source, serial, store)
    with spawned_workers() as started:
        job_id = snapshot(
            split_source, parallel, store, parallel=2, range_rows=RANGE_ROWS, verify=True
        )

    assert store.job(job_id)["verify_result"]["ok"]
    assert documents(parallel) == documents(serial)
    counts = {n: parallel.db[n].count_documents({}) for n in ("accounts", "ledger", "lonely")}
    counts["nothing"] = 0  # FerretDB lists no empty collection
    assert counts == {"accounts": 2400, "ledger": 1509, "lonely": 1, "nothing": 0}
    assert len(parallel.db.accounts.find_one({"_id": 1})["entries"]) == 1200

    # One progress row per collection, each document counted once (floor and rows).
    progress = {p["collection"]: p for p in store.progress_of(job_id)}
    assert sorted(progress) == sorted(counts)
    assert all(p["done"] and p["rows_done"] == counts[c] for c, p in progress.items())
    assert store.floors(job_id) == {c: n for c, n in counts.items() if n}
    assert SNAPSHOT_PLANNED in store.steps(job_id)

    # Equal row counts per range, whatever the key distribution.
    ranges = store.ranges_of(job_id)
    for collection, rows in (("accounts", 2400), ("ledger", 1509)):
        mine = [r for r in ranges if r["collection"] == collection]
        assert len(mine) == math.ceil(rows / RANGE_ROWS)
        sizes = [r["rows_done"] for r in mine]
        assert sum(sizes) == rows and max(sizes) - min(sizes) <= 1, sizes
        assert all(r["done"] for r in mine)
    for collection in ("nothing", "lonely"):
        (only,) = [r for r in ranges if r["collection"] == collection]
        assert (only["lower"], only["upper"], only["done"]) == (None, None, True)
    # Two worker processes ran, and they copied every range (which of them copied which is the
    # pool's scheduling: on a loaded machine the first to start may copy them all).
    assert len(started) == 2, started
    assert {int(r["worker"].rsplit(":", 1)[1]) for r in ranges} <= started


@contextlib.contextmanager
def spawned_workers() -> Iterator[set[int]]:
    """The pids of the worker processes this process spawns while the block runs."""
    started: set[int] = set()
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            for child in psutil.Process().children():
                with contextlib.suppress(psutil.Error):
                    if "spawn_main" in " ".join(child.cmdline()):
                        started.add(child.pid)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield started
    finally:
        done.set()
        sampler.join()


def with_expressions(project: Project) -> Project:
    """accounts: a filter, a calculated field and an expression `_id`; its embedded entries
    filtered and calculated too."""
    accounts = next(c for c in project.collections if c.name == "accounts")
    accounts.id = CustomId(expression='"acct-" + columns["id"]')
    accounts.filter = 'Number(columns["id"]) % 3 !== 0'
    accounts.calculated = [
        CalculatedField(name="shout", expression='columns["name"].toUpperCase()')
    ]
    (entries,) = accounts.embeds
    entries.filter = 'columns["amount"] > 5'
    entries.calculated = [CalculatedField(name="twice", expression='2 * columns["amount"]')]
    return project


def test_parallel_builds_with_the_one_builder(split_source, targets, store) -> None:
    """Filters, calculated fields and a custom `_id` come out of the parallel snapshot as out
    of the serial one: both build with the one DocumentBuilder."""
    project = with_expressions(split_source.project())
    serial, parallel = targets(), targets()
    snapshot(split_source, serial, store, project)
    job_id = snapshot(
        split_source, parallel, store, project, parallel=2, range_rows=RANGE_ROWS, verify=True
    )

    assert store.job(job_id)["verify_result"]["ok"]
    assert documents(parallel) == documents(serial)
    kept = 2400 - sum(1 for i in split_source.account_ids() if i % 3 == 0)
    assert parallel.db.accounts.count_documents({}) == kept
    first = parallel.db.accounts.find_one({"_id": "acct-1"})
    assert first["shout"] == "ACCOUNT 1"
    assert {e["twice"] for e in first["entries"]} == {2 * a for a in range(6, 97)}
    assert parallel.db.accounts.find_one({"_id": "acct-3"}) is None
    assert store.floors(job_id)["accounts"] == kept


def test_rows_added_after_the_split_are_copied(split_source, targets, store) -> None:
    """The first range is open below and the last open above: rows inserted after the split,
    beyond either end of the keys, are copied too."""
    target = targets()
    project = split_source.project()
    manager = JobManager(store)
    options = JobOptions(mode="snapshot", parallel=2, range_rows=RANGE_ROWS, batch_size=100)
    job_id = manager.create(project, target.uri, target.db.name, options)
    source = open_source(project.source)
    try:  # the job's first step, on its own: the ranges are recorded
        gate = IssueGate(project, target, store, job_id, ErrorPolicy())
        work = ParallelSnapshot(
            job_id, project, source, target, store, gate, 2, RANGE_ROWS, target.uri, None
        )
        work.plan()
        for key in (0, 10**13):
            split_source.execute(f"INSERT INTO accounts VALUES ({key}, 'late', 1.5)")
        assert manager.run(job_id, target.uri) == "COMPLETED", store.job(job_id)["failure"]
        assert target.db.accounts.count_documents({}) == 2402
        assert verify(project, source, target).ok
    finally:
        split_source.execute("DELETE FROM accounts WHERE name = 'late'")
        source.close()


def test_cancel_stops_every_worker_after_its_page(split_source, targets, store) -> None:
    """A cancel reaches the workers through the job's process: each finishes and checkpoints
    its page, so the floors say exactly what the target holds, and none is left running."""
    target = targets()
    manager = JobManager(store)
    options = JobOptions(mode="snapshot", parallel=2, range_rows=RANGE_ROWS, batch_size=20)
    job_id = manager.start(split_source.project(), target.uri, target.db.name, options)
    deadline = time.monotonic() + 300
    while not any(r["last_key"] for r in store.ranges_of(job_id)):
        assert store.job(job_id)["status"] == "RUNNING", store.job(job_id)["failure"]
        assert time.monotonic() < deadline, "no range was checkpointed"
        time.sleep(0.1)
    manager.cancel(job_id)
    manager.wait(job_id, 300)
    assert store.job(job_id)["status"] == "CANCELLED"
    ranges = store.ranges_of(job_id)
    assert not all(r["done"] for r in ranges)
    held = {c: target.db[c].count_documents({}) for c in ("accounts", "ledger", "lonely")}
    assert store.floors(job_id) == {c: n for c, n in held.items() if n}
    workers = {int(r["worker"].rsplit(":", 1)[1]) for r in ranges if r["worker"]}
    assert workers and not any(psutil.pid_exists(p) and _running(p) for p in workers)


def _running(pid: int) -> bool:
    with contextlib.suppress(psutil.NoSuchProcess):
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    return False


def test_fail_policy_stops_a_parallel_snapshot(sample_settings, target, store, make_project):
    """A worker's first error under FAIL fails the job with the row that caused it."""
    project = make_project(sample_settings)
    project.collections = [c for c in project.collections if c.table.endswith(".type_zoo")]
    job_id = run_snapshot(project, target, store, on_error="FAIL", parallel=2, range_rows=3)
    job = store.job(job_id)
    assert job["status"] == "FAILED" and "first error" in job["failure"], job["failure"]
    assert "type_zoo key" in job["failure"] and store.issues_of(job_id)
