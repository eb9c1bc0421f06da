"""A PostgreSQL slot invalidated by max_slot_wal_keep_size while the job is paused: the job
fails with a message that says so and how to start over, a second Resume is refused, and
nothing is written to the target from the broken position."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from cdc_rig import Rig
from relmig.mongo.writer import MongoTarget
from relmig.runtime.jobs import JobError
from relmig.source.capture import open_capture
from relmig.source.pg_capture import slot_name

pytestmark = [
    pytest.mark.services,
    # max_slot_wal_keep_size is the whole server's: any other job's slot that falls behind
    # while it is tiny is invalidated too.
    pytest.mark.alone(why="shrinks max_slot_wal_keep_size server-wide"),
]


@pytest.fixture
def admin(services_settings) -> Iterator[psycopg.Connection[Any]]:
    """A superuser connection, and max_slot_wal_keep_size as the server had it afterwards."""
    s = services_settings
    conn = psycopg.connect(
        host=s["RELMIG_HOST"],
        port=int(s["RELMIG_PG_PORT"]),
        user=s["RELMIG_PG_ADMIN_USER"],
        password=s["RELMIG_PG_ADMIN_PASSWORD"],
        dbname=s["RELMIG_PG_DB"],
        autocommit=True,
    )
    try:
        yield conn
    finally:
        conn.execute("ALTER SYSTEM RESET max_slot_wal_keep_size")
        conn.execute("SELECT pg_reload_conf()")
        conn.close()


def wal_status(admin: psycopg.Connection[Any], slot: str) -> str:
    row = admin.execute(
        "SELECT wal_status FROM pg_replication_slots WHERE slot_name = %s", (slot,)
    ).fetchone()
    assert row is not None, f"slot {slot} is gone"
    return str(row[0])


def invalidate(admin: psycopg.Connection[Any], slot: str) -> None:
    """Keep 1 MB of WAL for slots, write past it, and checkpoint until the slot is lost."""
    admin.execute("ALTER SYSTEM SET max_slot_wal_keep_size = 1")
    admin.execute("SELECT pg_reload_conf()")
    admin.execute("CREATE TEMP TABLE churn (x text)")
    for _ in range(10):
        admin.execute("INSERT INTO churn SELECT repeat('x', 1000) FROM generate_series(1, 3000)")
        admin.execute("SELECT pg_switch_wal()")
        admin.execute("CHECKPOINT")
        if wal_status(admin, slot) == "lost":
            return
    raise AssertionError(f"slot {slot} is still {wal_status(admin, slot)}")


def documents(rig: Rig) -> dict[str, list[dict[str, Any]]]:
    target = MongoTarget(rig.target_uri, rig.target_db)
    try:
        return {
            name: list(target.db[name].find().sort("_id"))
            for name in sorted(target.db.list_collection_names())
        }
    finally:
        target.close()


def test_a_slot_invalidated_while_paused(routed_rig, admin):
    rig = routed_rig
    job_id = rig.start("continuous")
    rig.streaming(job_id)
    rig.workload(random.Random(1), 5)
    rig.caught_up(job_id)
    rig.manager.pause(job_id)
    rig.manager.wait(job_id, 60)
    before = documents(rig)
    position = rig.store.job(job_id)["position"]

    rig.workload(random.Random(2), 10)  # changes the invalidated slot no longer has
    invalidate(admin, slot_name(job_id))

    rig.manager.resume(job_id)
    rig.manager.wait(job_id, 60)
    job = rig.manager.describe(job_id)
    assert job["status"] == "FAILED"
    assert "was invalidated" in job["failure"] and "max_slot_wal_keep_size" in job["failure"]
    assert "start a new job" in job["failure"]
    assert not job["resumable"] and "start a new job" in job["not_resumable_reason"]
    with pytest.raises(JobError, match="cannot be resumed"):
        rig.manager.resume(job_id)
    assert rig.store.job(job_id)["position"] == position
    assert documents(rig) == before

    capture = open_capture(rig.project, job_id)  # the invalidated slot still holds its name
    try:
        capture.cleanup()
    finally:
        capture.close()
