"""The state store's lifecycle steps and per-collection floors (SQLite, no services)."""

from __future__ import annotations

from pathlib import Path

import pytest

from relmig.runtime.store import CAPTURE_STARTED, TARGET_PREPARED, StateStore


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    s = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield s
    s.close()


def _job(store: StateStore) -> str:
    return store.create_job("p", "continuous", "mongodb://x/", "db", {})


def test_steps_are_recorded_once_with_the_job_values(store: StateStore) -> None:
    job = _job(store)
    assert store.steps(job) == {}
    store.record_step(job, CAPTURE_STARTED, position="0/16B3748")
    first = store.steps(job)[CAPTURE_STARTED]
    store.record_step(job, CAPTURE_STARTED)
    store.record_step(job, TARGET_PREPARED)
    assert list(store.steps(job)) == [CAPTURE_STARTED, TARGET_PREPARED]
    assert store.steps(job)[CAPTURE_STARTED] == first
    assert store.job(job)["position"] == "0/16B3748"


def test_floors_rise_with_checkpoints_and_never_go_below_zero(store: StateStore) -> None:
    job = _job(store)
    store.start_collection(job, "orders", "public.orders", 10)
    store.checkpoint(job, "orders", '"5"', 5, written=4)
    store.checkpoint(job, "orders", '"10"', 5, written=5)
    assert store.floors(job) == {"orders": 9}
    store.adjust_floor(job, "orders", -3)
    store.adjust_floor(job, "customers", -3)
    assert store.floors(job) == {"orders": 6, "customers": 0}
    store.adjust_floor(job, "orders", -100)
    assert store.floors(job)["orders"] == 0
    store.adjust_floor(job, "orders", 2)
    store.clear_floor(job, "orders")
    assert "orders" not in store.floors(job)


def test_failure_kinds(store: StateStore) -> None:
    import datetime as dt

    job, other = _job(store), _job(store)
    store.fail(job, "DDL on mapped table")
    assert store.job(job)["failure_kind"] == "error"
    long_ago = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    store.update_job(other, heartbeat_at=long_ago)
    assert store.mark_stale(dt.timedelta(seconds=30)) == [other]
    assert store.job(other)["failure_kind"] == "stopped"


def test_repeated_issues_are_counted_not_listed(store: StateStore) -> None:
    from relmig.runtime.store import IssueRecord

    job = _job(store)
    bad = [IssueRecord("ERROR", "orders", "public.orders", str(k), "f", "bad") for k in range(3)]
    store.add_issues(job, [*bad, bad[0]])
    store.add_issues(job, bad[:2])
    listed = store.issues_of(job)
    assert [(i["key"], i["occurrences"]) for i in listed] == [("0", 3), ("1", 2), ("2", 1)]
    assert store.job(job)["error_count"] == 3
    # Resumed under WARN after FAIL (issue 23 §3): the same problem, listed once, as it is now.
    store.add_issues(job, [IssueRecord("WARNING", "orders", "public.orders", "0", "f", "bad")])
    listed = store.issues_of(job)
    first = listed[0]
    assert (len(listed), first["key"], first["severity"], first["occurrences"]) == (
        3,
        "0",
        "WARNING",
        4,
    )


def test_a_store_file_from_before_gains_columns_and_indexes(tmp_path: Path) -> None:
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # the issues table as an older relmig made it
        conn.execute(
            sa.text(
                "CREATE TABLE issues (id INTEGER PRIMARY KEY, job_id VARCHAR(40) NOT NULL, "
                "at DATETIME NOT NULL, severity VARCHAR(10) NOT NULL, collection VARCHAR(200), "
                "table_id VARCHAR(400), key TEXT, field VARCHAR(400), detail TEXT NOT NULL)"
            )
        )
    engine.dispose()
    StateStore(url).close()
    inspector = sa.inspect(sa.create_engine(url))
    assert {"fingerprint", "occurrences"} <= {c["name"] for c in inspector.get_columns("issues")}
    assert "ix_issues_job_fingerprint" in {i["name"] for i in inspector.get_indexes("issues")}


def test_an_event_seconds_ago_is_in_the_last_minutes_count(store: StateStore, monkeypatch) -> None:
    """Issue 23 §3: events are counted per minute, and "last minute" read 0 seconds after an
    event saved in the previous minute's bucket."""
    import datetime as dt

    from relmig.runtime import jobs
    from relmig.runtime.records import jobs as job_records

    saved = dt.datetime(2026, 12, 7, 12, 0, 50, tzinfo=dt.UTC)
    monkeypatch.setattr(job_records, "utcnow", lambda: saved)
    job = _job(store)
    store.save_position(job, "0/1", 3, saved)
    seen = jobs.JobManager(store, lambda: saved + dt.timedelta(seconds=20)).describe(job)["stats"]
    assert (seen["events_last_minute"], seen["events_last_hour"]) == (3, 3)
    assert seen["events_counted_from"]["minute"] == dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
    later = jobs.JobManager(store, lambda: saved + dt.timedelta(minutes=2)).describe(job)["stats"]
    assert (later["events_last_minute"], later["events_last_hour"]) == (0, 3)


def test_the_same_fault_retried_is_one_issue_with_a_count(store: StateStore) -> None:
    """Issue 23 §3: each retry of a lost link was a row of its own ("retry in 1s", "retry in
    2s", …); it is one row, counted, like other repeats."""
    from relmig.errors import SourceError
    from relmig.runtime.retry import LinkRetry

    job = _job(store)
    attempts = iter([SourceError("lost the source"), SourceError("lost the source"), None])

    def attempt() -> str:
        failure = next(attempts)
        if failure is not None:
            raise failure
        return "done"

    assert LinkRetry(store, job, sleep=lambda _: None).run(attempt) == "done"
    [issue] = store.issues_of(job)
    assert (issue["severity"], issue["occurrences"]) == ("WARNING", 2)
    assert issue["detail"] == "lost the source; retried from the checkpoint"
    assert store.retries_of(job) == 2


def test_a_retry_knows_which_links_are_failing(store: StateStore) -> None:
    """What the CDC loop proves with a round trip before heartbeats clear a condition."""
    from relmig.errors import SourceError, TargetError
    from relmig.runtime.retry import LinkRetry

    job = _job(store)
    retry = LinkRetry(store, job, sleep=lambda _: None)
    retry.failed(SourceError("the source stalled"))
    retry.failed(TargetError("the target stalled"))
    assert retry.failing == {"source", "target"}
    retry.healthy()
    assert retry.failing == set() and store.conditions_of(job) == [] and retry.failures == 0
