"""A parallel snapshot's ranges in the state store: recorded once, checkpointed by
compare-and-set, so a page written twice is counted once; one error budget for all its
processes (SQLite, no services)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from relmig.runtime.policy import JobFailed
from relmig.runtime.range_copy import shared_policy
from relmig.runtime.store import SNAPSHOT_PLANNED, IssueRecord, StateStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    s = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield s
    s.close()


@pytest.fixture
def job(store: StateStore) -> str:
    job_id = store.create_job("p", "snapshot", "mongodb://x/", "db", {})
    store.plan_ranges(
        job_id,
        [
            ("orders", "public.orders", 30, [(None, "[10]"), ("[10]", "[20]"), ("[20]", None)]),
            ("notes", "public.notes", 0, [(None, None)]),
        ],
    )
    return job_id


def test_ranges_are_recorded_with_their_step_and_progress(store: StateStore, job: str) -> None:
    assert SNAPSHOT_PLANNED in store.steps(job)
    ranges = store.ranges_of(job, "orders")
    assert [(r["number"], r["lower"], r["upper"]) for r in ranges] == [
        (0, None, "[10]"),
        (1, "[10]", "[20]"),
        (2, "[20]", None),
    ]
    progress = {p["collection"]: p for p in store.progress_of(job)}
    assert progress["orders"]["rows_total"] == 30 and not progress["orders"]["done"]


def test_a_checkpoint_moves_only_from_where_the_range_stands(store: StateStore, job: str) -> None:
    assert store.range_checkpoint(job, "orders", 1, None, "[15]", 5, 5, worker="a")
    # A second copy of the same page (a work item delivered twice) is not counted again.
    assert not store.range_checkpoint(job, "orders", 1, None, "[15]", 5, 5, worker="b")
    assert store.range_checkpoint(job, "orders", 1, "[15]", "[20]", 5, 4, worker="b")
    assert store.floors(job) == {"orders": 9}
    (moved,) = [r for r in store.ranges_of(job, "orders") if r["number"] == 1]
    assert (moved["last_key"], moved["rows_done"], moved["worker"]) == ("[20]", 10, "b")
    assert {p["collection"]: p["rows_done"] for p in store.progress_of(job)}["orders"] == 10


def test_a_collection_is_done_with_its_last_range(store: StateStore, job: str) -> None:
    for number in (0, 1):
        assert store.range_checkpoint(job, "orders", number, None, None, 0, 0, done=True)
    assert not {p["collection"]: p["done"] for p in store.progress_of(job)}["orders"]
    assert store.range_checkpoint(job, "orders", 2, None, None, 0, 0, done=True)
    assert not store.range_checkpoint(job, "orders", 2, None, None, 0, 0, done=True)
    done = {p["collection"]: p["done"] for p in store.progress_of(job)}
    assert done == {"orders": True, "notes": False}


def test_the_processes_of_a_snapshot_share_one_error_budget(store: StateStore) -> None:
    """Each worker's policy counts what every process recorded since the snapshot began."""
    job = store.create_job("p", "snapshot", "mongodb://x/", "db", {})
    store.update_job(job, options={"on_error": "SKIP", "max_errors": 3})
    store.add_issues(job, [_issue("before the snapshot")])  # an earlier run's: not counted
    first, second = (shared_policy(store, job, issues_before=1) for _ in range(2))
    store.add_issues(job, [_issue("a"), _issue("b")])
    first.count(2, "a")
    store.add_issues(job, [_issue("c"), _issue("a")])  # a repeat counts as an occurrence
    with pytest.raises(JobFailed, match="stopped after 4 errors"):
        second.count(2, "c")


def _issue(detail: str) -> IssueRecord:
    return IssueRecord("ERROR", "orders", "public.orders", "1", "qty", detail)
