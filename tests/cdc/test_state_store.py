"""The state store on both backends: SQLite (default) and PostgreSQL (a shared server)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from relmig.runtime.store import IssueRecord, StateStore, utcnow

pytestmark = pytest.mark.services


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request, tmp_path, services_settings) -> Iterator[StateStore]:
    if request.param == "sqlite":
        store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
        yield store
        store.close()
        return
    s = services_settings
    name = f"relmig_state_{uuid.uuid4().hex[:8]}"
    login = dict(
        host=s["RELMIG_HOST"],
        port=int(s["RELMIG_PG_PORT"]),
        user=s["RELMIG_PG_USER"],
        password=s["RELMIG_PG_PASSWORD"],
    )
    with psycopg.connect(**login, dbname=s["RELMIG_PG_DB"], autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    store = StateStore(
        f"postgresql+psycopg://{login['user']}:{login['password']}@{login['host']}:"
        f"{login['port']}/{name}"
    )
    yield store
    store.close()
    with psycopg.connect(**login, dbname=s["RELMIG_PG_DB"], autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_positions_statistics_issues_and_stale_jobs(any_store: StateStore) -> None:
    store = any_store
    job_id = store.create_job(
        "p", "continuous", "mongodb://h", "db", {"on_error": "FAIL"}, {"name": "p"}
    )
    assert store.job(job_id)["project_doc"] == {"name": "p"}
    commit = utcnow()
    store.save_position(job_id, "0/10", 5, commit)
    store.save_position(job_id, "0/20", 7, None)  # same minute: one bucket, added up
    job = store.job(job_id)
    assert (job["position"], job["events_total"]) == ("0/20", 12)
    assert store.events_since(job_id, utcnow() - dt.timedelta(minutes=1)) == 12
    assert store.events_since(job_id, utcnow() + dt.timedelta(minutes=2)) == 0

    store.add_issues(job_id, [IssueRecord("ERROR", "c", "t", "1", "f", "bad")])
    assert store.job(job_id)["error_count"] == 1
    assert store.issues_of(job_id)[0]["detail"] == "bad"
    # Seen again (a resumed job rebuilds the page that failed; a CDC replay): counted, not listed
    # twice; None fields compare equal; a different key is a new issue.
    store.add_issues(
        job_id,
        [
            IssueRecord("ERROR", "c", "t", "1", "f", "bad"),
            IssueRecord("WARNING", None, None, None, None, "retry"),
            IssueRecord("WARNING", None, None, None, None, "retry"),
            IssueRecord("ERROR", "c", "t", "2", "f", "bad"),
        ],
    )
    listed = store.issues_of(job_id)
    assert [(i["key"], i["detail"], i["occurrences"]) for i in listed] == [
        ("1", "bad", 2),
        (None, "retry", 2),
        ("2", "bad", 1),
    ]
    assert store.job(job_id)["error_count"] == 3

    later = utcnow() + dt.timedelta(minutes=5)
    assert store.mark_stale(dt.timedelta(seconds=30), later) == [job_id]
    job = store.job(job_id)
    assert job["status"] == "FAILED" and job["failure"].startswith("stopped unexpectedly")
    assert job["failed_at"] is not None
    assert store.mark_stale(dt.timedelta(seconds=30), later) == []  # only once

    # Opening the store again (a newer relmig on an older file) keeps everything.
    again = StateStore(store.url)
    assert again.job(job_id)["position"] == "0/20"
    again.close()
