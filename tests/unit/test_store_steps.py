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
