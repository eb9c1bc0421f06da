"""SIGTERM and Ctrl-C pause a job cleanly (issue 29 §6), in the snapshot and in CDC, in both
modes: `relmig sync` runs in a child process, gets the signal, exits 0 with the job PAUSED and
the reason recorded; Resume continues it, more changes arrive, and the target equals a fresh
snapshot. (A second signal and the stop timeout: tests/unit/test_stopping.py.)
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cdc_rig import Rig
from kafka_job import KafkaJob
from relmig.project.file import save_project

pytestmark = pytest.mark.services

WAIT = 120.0


def start_sync(rig: Rig, tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    project_file = tmp_path / "project.yaml"
    save_project(rig.project, project_file)
    target = ["--target", rig.target_uri, "--database", rig.target_db]
    child = subprocess.Popen(
        [sys.executable, "-m", "relmig.cli", "sync", str(project_file), *extra, *target],
        env={**os.environ, "RELMIG_STATE_URL": rig.store.url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    return child, rig.wait_for_new_job()


def in_snapshot(rig: Rig, job_id: str) -> None:
    """Until the snapshot has written a page of its first collection: the others are still to
    copy, so a pause requested now lands in the snapshot (one near its end could miss it)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        job = rig.store.job(job_id)
        progress = rig.store.progress_of(job_id)
        done = sum(p["rows_done"] for p in progress)
        if job["stage"] == "SNAPSHOT" and done > 0 and not any(p["done"] for p in progress):
            return
        assert job["stage"] == "SNAPSHOT", "the snapshot ended before the signal"
        time.sleep(0.01)
    raise AssertionError("the snapshot wrote nothing")


def resumes_to_equal(rig: Rig, job_id: str, rng: random.Random) -> None:
    rig.manager.resume(job_id)
    rig.streaming(job_id)
    rig.workload(rng, 10)
    rig.caught_up(job_id)
    rig.verify()


@pytest.mark.parametrize("stage", ["SNAPSHOT", "CDC"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_pauses_the_job_cleanly(
    rig: Rig, tmp_path: Path, signum: signal.Signals, stage: str
) -> None:
    rng = random.Random(f"{signum}-{stage}")
    # Small snapshot pages, so that the signal lands while it copies.
    child, job_id = start_sync(rig, tmp_path, "--batch-size", "5")
    if stage == "SNAPSHOT":
        in_snapshot(rig, job_id)
    else:
        rig.streaming(job_id)
        rig.workload(rng, 10)  # changes in flight
    child.send_signal(signum)
    out, err = child.communicate(timeout=WAIT)
    assert child.returncode == 0, err.decode()
    name = signal.Signals(signum).name
    job = rig.store.job(job_id)
    assert (job["status"], job["stage"], job["stop_reason"]) == (
        "PAUSED",
        stage,
        f"stopped by {name}",
    )
    said = " ".join(out.decode().split())  # the console wraps lines
    assert f"paused (stopped by {name}); continue it with: relmig jobs resume {job_id}" in said
    resumes_to_equal(rig, job_id, rng)
    assert rig.store.job(job_id)["stop_reason"] is None


def test_sigterm_pauses_a_kafka_mode_job_cleanly(
    pg_rig: Rig, tmp_path: Path, kafka_bootstrap: str
) -> None:
    """In Kafka mode the job's process supervises a source task and sink workers: SIGTERM
    pauses them through the same request, and nothing is lost across the resume."""
    rig = pg_rig
    rng = random.Random("kafka")
    kafka = ["--engine", "kafka", "--kafka-bootstrap", kafka_bootstrap, "--partitions", "4"]
    child, job_id = start_sync(rig, tmp_path, *kafka, "--workers", "2")
    rig.streaming(job_id)
    rig.workload(rng, 10)  # changes in flight through Kafka
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=WAIT)
    assert child.returncode == 0, err.decode()
    job = rig.store.job(job_id)
    assert (job["status"], job["stop_reason"]) == ("PAUSED", "stopped by SIGTERM")
    tasks = rig.store.kafka_tasks_of(job_id)
    assert tasks and all(t["state"] != "RUNNING" for t in tasks), tasks
    rig.manager.resume(job_id)
    rig.streaming(job_id)
    rig.workload(rng, 10)
    KafkaJob(rig, job_id, kafka_bootstrap).applied()  # the sinks, not only the source task
    rig.verify()


def test_sigterm_during_a_kafka_rebalance_loses_nothing(
    pg_rig: Rig, tmp_path: Path, kafka_bootstrap: str
) -> None:
    """A worker joins the job's group from another process; while the group rebalances (the
    newcomer registered, no partition assigned to it yet), both the job's process and the
    newcomer get SIGTERM. Both stop cleanly, and the resumed job loses nothing."""
    rig = pg_rig
    rng = random.Random("rebalance")
    kafka = ["--engine", "kafka", "--kafka-bootstrap", kafka_bootstrap, "--partitions", "4"]
    child, job_id = start_sync(rig, tmp_path, *kafka, "--workers", "2")
    rig.streaming(job_id)
    rig.workload(rng, 10)
    newcomer = subprocess.Popen(
        [sys.executable, "-m", "relmig.cli", "worker", "--job", job_id, "--name", "newcomer"],
        env={**os.environ, "RELMIG_STATE_URL": rig.store.url, "RELMIG_TARGET_URI": rig.target_uri},
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        row = next((t for t in rig.store.kafka_tasks_of(job_id) if t["task"] == "newcomer"), None)
        if row is not None and row["state"] == "RUNNING" and not row["assigned"]:
            break  # joined, waiting for its share: the group is rebalancing
        time.sleep(0.005)
    else:
        raise AssertionError("the newcomer never joined")
    rig.workload(rng, 5)  # changes in flight across the rebalance
    newcomer.send_signal(signal.SIGTERM)
    child.send_signal(signal.SIGTERM)
    assert newcomer.wait(WAIT) == 0
    _, err = child.communicate(timeout=WAIT)
    assert child.returncode == 0, err.decode()
    job = rig.store.job(job_id)
    assert (job["status"], job["stop_reason"]) == ("PAUSED", "stopped by SIGTERM")
    rig.manager.resume(job_id)
    rig.streaming(job_id)
    rig.workload(rng, 10)
    KafkaJob(rig, job_id, kafka_bootstrap).applied()
    rig.verify()
