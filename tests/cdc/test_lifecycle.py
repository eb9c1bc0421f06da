"""The job lifecycle against real servers: pause, resume, cancel, complete, crashes, windows.

Outcomes are checked where they live: the slot and publication in PostgreSQL's catalogs, the
statuses in the state store, the documents in the target.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest

from relmig.errors import RelmigError
from relmig.runtime.jobs import STALE_AFTER, JobError, JobManager
from relmig.runtime.store import utcnow
from relmig.source.pg_capture import slot_name

pytestmark = pytest.mark.services


def _catalog(rig, job_id: str) -> tuple[bool, bool]:
    """Whether the job's slot and publication exist."""
    name = slot_name(job_id)
    rows = rig.query(
        f"SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{name}'), "
        f"(SELECT count(*) FROM pg_publication WHERE pubname = '{name}')"
    )
    return rows[0][0] == 1, rows[0][1] == 1


def test_pause_resume_then_complete_cleans_up(pg_rig) -> None:
    rig = pg_rig
    job_id = rig.start("continuous")
    rig.streaming(job_id)
    assert _catalog(rig, job_id) == (True, True)

    rig.manager.pause(job_id)
    rig.manager.wait(job_id, 60)
    job = rig.store.job(job_id)
    assert (job["status"], job["cdc_status"]) == ("PAUSED", "PAUSED")
    assert _catalog(rig, job_id) == (True, True)  # the slot keeps the changes made meanwhile

    rig.workload(random.Random(1), 20)  # while paused
    rig.manager.resume(job_id)
    rig.caught_up(job_id)
    rig.verify()

    rig.workload(random.Random(2), 10)
    rig.manager.complete(job_id)
    rig.manager.wait(job_id, 60)
    job = rig.store.job(job_id)
    assert (job["status"], job["cdc_status"]) == ("COMPLETED", "COMPLETED")
    assert _catalog(rig, job_id) == (False, False)
    rig.verify()  # complete drained everything committed before it

    with pytest.raises(JobError, match="cannot be resumed"):
        rig.manager.resume(job_id)


def test_cancel_keeps_partial_data_and_drops_slot(pg_rig) -> None:
    rig = pg_rig
    job_id = rig.start("continuous")
    rig.streaming(job_id)
    rig.manager.cancel(job_id)
    rig.manager.wait(job_id, 60)
    job = rig.store.job(job_id)
    # CDC ran and was cancelled: it did not complete (the UI showed "CDC COMPLETED" before).
    assert (job["status"], job["cdc_status"]) == ("CANCELLED", "CANCELLED")
    assert _catalog(rig, job_id) == (False, False)
    from relmig.mongo.writer import MongoTarget

    target = MongoTarget(rig.target_uri, rig.target_db)
    assert target.db["customers"].count_documents({}) > 0
    target.close()


def test_stale_job_becomes_failed_and_resumes_from_checkpoint(pg_rig) -> None:
    """A job whose process died is marked FAILED by the next process; resume loses nothing."""
    rig = pg_rig
    job_id = rig.start("continuous")
    rig.streaming(job_id)
    rig.caught_up(job_id)
    # Simulate the process dying: stop the thread without it recording anything.
    rig.manager.pause(job_id)
    rig.manager.wait(job_id, 60)
    rig.store.update_job(job_id, status="RUNNING", cdc_status="RUNNING", request=None)
    rig.workload(random.Random(3), 30)  # changes while "dead"

    later = utcnow() + STALE_AFTER * 2
    other = JobManager(rig.store, clock=lambda: later)  # any relmig process opening the store
    job = rig.store.job(job_id)
    assert job["status"] == "FAILED" and job["failure"].startswith("stopped unexpectedly")
    info = other.describe(job_id)
    assert info["resumable"] and info["resume_deadline"] > later

    rig.manager.resume(job_id)
    rig.caught_up(job_id)
    rig.verify()


def test_recovery_window_expiry_refuses_and_drops_slot(pg_rig) -> None:
    rig = pg_rig
    job_id = rig.start("continuous", recovery_hours=24)
    rig.streaming(job_id)
    rig.manager.pause(job_id)
    rig.manager.wait(job_id, 60)
    failed_at = utcnow()
    rig.store.fail(job_id, "stopped unexpectedly", failed_at)

    inside = JobManager(rig.store, clock=lambda: failed_at + dt.timedelta(hours=23, minutes=59))
    assert inside.describe(job_id)["resumable"]
    after = JobManager(rig.store, clock=lambda: failed_at + dt.timedelta(hours=24, minutes=1))
    assert not after.describe(job_id)["resumable"]
    with pytest.raises(JobError, match=r"recovery window ended.*slot was dropped"):
        after.resume(job_id)
    assert _catalog(rig, job_id) == (False, False)
    assert rig.store.job(job_id)["slot_dropped"]


def test_dropped_slot_refuses_resume(pg_rig, services_settings) -> None:
    rig = pg_rig
    job_id = rig.start("continuous")
    rig.streaming(job_id)
    rig.manager.pause(job_id)
    rig.manager.wait(job_id, 60)
    rig.query(f"SELECT pg_drop_replication_slot('{slot_name(job_id)}')")
    rig.manager.resume(job_id)
    rig.manager.wait(job_id, 60)
    job = rig.store.job(job_id)
    assert job["status"] == "FAILED"
    assert "no longer exists" in job["failure"] and "start a new job" in job["failure"]
    assert not rig.manager.describe(job_id)["resumable"]


def test_continuous_job_refuses_without_prerequisites(pg_rig) -> None:
    rig = pg_rig
    rig.execute([("ALTER TABLE orders REPLICA IDENTITY DEFAULT", ())])
    with pytest.raises(RelmigError, match=r"(?s)not ready for CDC.*REPLICA IDENTITY FULL"):
        rig.start("continuous")


def test_toast_and_truncate(pg_rig) -> None:
    # DDL: tests/cdc/test_schema_drift.py
    rig = pg_rig
    job_id = rig.start("continuous")
    rig.streaming(job_id)
    big = "".join(random.Random(5).choice("abcdef0123456789") for _ in range(20000))
    rig.execute([("UPDATE customers SET company_name = %s WHERE customer_id = 'ALFKI'", ("x",))])
    # categories.description is TOASTed; an update of another column sends it as 'unchanged'.
    rig.execute([("UPDATE categories SET description = %s WHERE category_id = 1", (big,))])
    rig.execute([("UPDATE categories SET category_name = 'Toast' WHERE category_id = 1", ())])
    rig.caught_up(job_id)
    rig.verify()
    from relmig.mongo.writer import MongoTarget

    target = MongoTarget(rig.target_uri, rig.target_db)
    doc = target.db["categories"].find_one({"_id": 1})
    assert doc["category_name"] == "Toast" and doc["description"] == big

    rig.execute(
        [
            ("TRUNCATE order_detail_notes", ()),
            (
                "INSERT INTO order_detail_notes SELECT 999999, order_id, product_id, NULL, 'after',"
                " now() FROM order_details LIMIT 1",
                (),
            ),
        ]
    )
    rig.caught_up(job_id)
    rig.verify()
    target.close()


def test_kill_9_at_random_points_resumes_without_loss(rig, tmp_path) -> None:
    """Run the job in a child process, SIGKILL it during snapshot and CDC, resume, verify."""
    kill_9_and_resume(rig, tmp_path)


def test_kill_9_with_expressions_in_the_mapping(synthetic_rig, tmp_path) -> None:
    """The same over synthetic relationships, calculated fields, filters and custom _ids."""
    kill_9_and_resume(synthetic_rig, tmp_path)


def kill_9_and_resume(rig, tmp_path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    rng = random.Random(42)
    env = {**os.environ, "RELMIG_STATE_URL": rig.store.url}
    project_file = tmp_path / "project.yaml"
    from relmig.project.file import save_project

    save_project(rig.project, project_file)
    cmd = [
        sys.executable,
        "-m",
        "relmig.cli",
        "sync",
        str(project_file),
        "--target",
        rig.target_uri,
        "--database",
        rig.target_db,
    ]
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    job_id = rig.wait_for_new_job()
    time.sleep(rng.uniform(0.2, 1.0))  # somewhere in the snapshot (or just after)
    for round_ in range(4):
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        rig.workload(rng, 15)  # while nothing runs
        rig.manager.recover_stale()
        job = rig.store.job(job_id)
        assert job["status"] == "FAILED", job
        child = subprocess.Popen(
            [sys.executable, "-m", "relmig.cli", "jobs", "resume", job_id],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        claimed = time.monotonic() + 60
        while rig.store.job(job_id)["status"] == "FAILED" and time.monotonic() < claimed:
            time.sleep(0.05)  # until the new process has taken the job over
        rig.streaming(job_id)
        rig.workload(rng, 10)
        time.sleep(rng.uniform(0.0, 1.5 if round_ % 2 else 0.2))
    rig.caught_up(job_id)
    rig.verify()
    child.send_signal(signal.SIGKILL)
    child.wait(30)


CRASH_BEFORE_CHECKPOINT = """
import os, signal, sys
from relmig.runtime.store import StateStore
original = StateStore.save_position
def crash(self, job_id, position, events, last_event_at, **statistics):
    if events:  # this batch is in the target now; die before its checkpoint
        os.kill(os.getpid(), signal.SIGKILL)
    return original(self, job_id, position, events, last_event_at, **statistics)
StateStore.save_position = crash
from relmig.cli.app import app
app(sys.argv[1:], prog_name="relmig")
"""


def test_kill_between_target_write_and_checkpoint(pg_rig, tmp_path) -> None:
    """The position is neither saved nor confirmed to the slot before the write is durable;
    after the crash the changes replay, and the replay converges."""
    import os
    import subprocess
    import sys

    from relmig.project.file import save_project
    from relmig.source.pg_capture import str_to_lsn

    rig = pg_rig
    env = {**os.environ, "RELMIG_STATE_URL": rig.store.url}
    project_file = tmp_path / "project.yaml"
    save_project(rig.project, project_file)
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CRASH_BEFORE_CHECKPOINT,
            "sync",
            str(project_file),
            "--target",
            rig.target_uri,
            "--database",
            rig.target_db,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    job_id = rig.wait_for_new_job()
    rig.streaming(job_id)
    saved = rig.store.job(job_id)["position"]
    rig.workload(random.Random(7), 5)
    assert child.wait(60) == -9
    job = rig.store.job(job_id)
    assert job["position"] == saved and job["events_total"] == 0
    (confirmed,) = rig.query(
        f"SELECT confirmed_flush_lsn::text FROM pg_replication_slots "
        f"WHERE slot_name = '{slot_name(job_id)}'"
    )[0]
    assert str_to_lsn(confirmed) <= str_to_lsn(saved)

    rig.manager.recover_stale()
    rig.manager.resume(job_id)
    rig.caught_up(job_id)
    rig.verify()
    assert rig.store.job(job_id)["events_total"] > 0


def test_pause_and_cancel_during_the_snapshot(pg_rig) -> None:
    rig = pg_rig
    job_id = rig.start("continuous", batch_size=5)
    rig.wait_for(job_id, lambda j: j["status"] == "RUNNING")
    rig.manager.pause(job_id)
    rig.manager.wait(job_id, 60)
    job = rig.store.job(job_id)
    assert (job["status"], job["stage"]) == ("PAUSED", "SNAPSHOT")
    assert any(not p["done"] for p in rig.store.progress_of(job_id)), "paused mid-snapshot"

    rig.workload(random.Random(11), 10)
    rig.manager.resume(job_id)  # continues the snapshot from its checkpoints, then streams
    rig.streaming(job_id)
    rig.caught_up(job_id)
    rig.verify()

    rig.manager.cancel(job_id)
    rig.manager.wait(job_id, 60)
    assert rig.store.job(job_id)["status"] == "CANCELLED"
    assert _catalog(rig, job_id) == (False, False)


def test_cancel_during_the_snapshot_leaves_cdc_not_started(pg_rig) -> None:
    rig = pg_rig
    job_id = rig.start("continuous", batch_size=5)
    rig.wait_for(job_id, lambda j: j["status"] == "RUNNING")
    rig.manager.cancel(job_id)
    rig.manager.wait(job_id, 60)
    job = rig.store.job(job_id)
    assert (job["status"], job["stage"], job["cdc_status"]) == (
        "CANCELLED",
        "SNAPSHOT",
        "NOT_STARTED",
    )
    assert _catalog(rig, job_id) == (False, False)


def test_resume_refuses_a_target_that_lost_documents(pg_rig) -> None:
    """Defence in depth: a collection emptied outside the job while it was paused is found
    on resume, reported with both numbers, and nothing is streamed."""
    from relmig.mongo.writer import MongoTarget

    rig = pg_rig
    job_id = rig.start("continuous", drop=True)
    rig.streaming(job_id)
    rig.workload(random.Random(21), 30)  # deletes lower the floor, new orders do not raise it
    rig.caught_up(job_id)
    rig.manager.pause(job_id)
    rig.manager.wait(job_id, 60)
    target = MongoTarget(rig.target_uri, rig.target_db)
    try:
        floors = rig.store.floors(job_id)
        held = {c: target.count(c) for c in floors}
        assert all(0 < floors[c] <= held[c] for c in floors), (floors, held)
        rig.manager.resume(job_id)  # an intact target resumes
        rig.streaming(job_id)
        rig.manager.pause(job_id)
        rig.manager.wait(job_id, 60)

        target.db["orders"].drop()
        position = rig.store.job(job_id)["position"]
        rig.workload(random.Random(22), 5)
        rig.manager.resume(job_id)
        rig.manager.wait(job_id, 60)
    finally:
        target.close()
    job = rig.store.job(job_id)
    assert job["status"] == "FAILED", job
    failure = job["failure"]
    assert "orders" in failure and "holds 0 documents" in failure, failure
    assert f"at least {rig.store.floors(job_id)['orders']:,}" in failure, failure
    assert job["position"] == position, "nothing may be streamed onto a target that lost data"
