"""The distributed snapshot of a Kafka-mode job: its key ranges are work items of the job's
worker group, so a `relmig worker` in another process copies ranges next to the job's own
snapshot worker. The remote worker is killed halfway: the group gives its unfinished ranges to
the job's worker, each document is still counted once, and the job streams changes as usual.

One Kafka broker is enough: this is about who does the work, not about losing brokers.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from confluent_kafka.admin import AdminClient

from cdc_rig import Rig, cleanup_rig, make_rig
from kafka_cluster import wait_for
from kafka_job import PARTITIONS, KafkaJob
from relmig.mongo.writer import MongoTarget
from relmig.runtime.jobs import JobOptions
from relmig.transport.kafka.topics import work_topic_name

pytestmark = pytest.mark.services

WAIT = 300.0


@pytest.fixture
def pg_rig(services_settings, mongo_uri, tmp_path, monkeypatch) -> Iterator[Rig]:
    """PostgreSQL; unlike this directory's `rig`, any number of brokers will do."""
    monkeypatch.setenv("RELMIG_TEST_PG_PASSWORD", services_settings["RELMIG_PG_PASSWORD"])
    r = make_rig("postgresql", services_settings, mongo_uri, tmp_path)
    yield r
    cleanup_rig(r)


def test_remote_worker_copies_ranges(pg_rig: Rig, kafka_bootstrap: str) -> None:
    rig = pg_rig
    options = JobOptions(
        mode="continuous",
        engine="kafka",
        kafka_bootstrap=kafka_bootstrap,
        kafka_partitions=PARTITIONS,
        kafka_workers=1,
        parallel=1,
        range_rows=25,
        batch_size=10,
    )
    job_id = rig.manager.create(rig.project, rig.target_uri, rig.target_db, options)
    rig.jobs.append(job_id)
    remote = subprocess.Popen(
        [sys.executable, "-m", "relmig.cli", "worker", "--job", job_id, "--name", "remote-1"],
        env={**os.environ, "RELMIG_STATE_URL": rig.store.url, "RELMIG_TARGET_URI": rig.target_uri},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: _task(rig, job_id, "remote-1").get("state") == "RUNNING", "remote-1")
        # The job's own process (this one, which created it) starts once remote-1 is in the
        # group, so that both take ranges from the start.
        threading.Thread(target=rig.manager.run, args=(job_id, rig.target_uri), daemon=True).start()
        wait_for(lambda: _copied_by(rig, job_id, "remote-1") >= 2, "remote-1 to copy ranges")
        # remote-1 vanishes mid-snapshot: the group hands its partitions (and its unfinished
        # ranges, whose messages it never committed) to the job's own worker.
        remote.kill()
        remote.wait()
        assert not all(r["done"] for r in rig.store.ranges_of(job_id)), "too little work"
        deadline = time.monotonic() + WAIT
        while (job := rig.store.job(job_id))["stage"] != "CDC":
            assert job["status"] not in ("FAILED", "CANCELLED"), job["failure"]
            assert time.monotonic() < deadline, "the snapshot did not finish"
            time.sleep(0.5)

        ranges = rig.store.ranges_of(job_id)
        assert len(ranges) > len(rig.project.collections) and all(r["done"] for r in ranges)
        by_worker = Counter(r["worker"] for r in ranges)
        print("ranges per worker:", dict(by_worker))
        assert by_worker["remote-1"] > 0 and by_worker["snapshot-1"] > 0, by_worker
        target = MongoTarget(rig.target_uri, rig.target_db)
        try:  # each document counted once, whoever copied it
            held = {c.name: target.count(c.name) for c in rig.project.collections}
        finally:
            target.close()
        assert rig.store.floors(job_id) == held
        assert _task(rig, job_id, "snapshot-1")["state"] == "STOPPED"
        rig.verify()

        rig.streaming(job_id)
        rig.workload(random.Random(12), 10)
        KafkaJob(rig, job_id, kafka_bootstrap).applied()
        rig.verify()

        rig.manager.complete(job_id)
        rig.wait_for(job_id, lambda j: j["status"] == "COMPLETED")
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
        topics = admin.list_topics(timeout=15).topics
        assert work_topic_name(job_id) not in topics  # released with the changes topic
    finally:
        if remote.poll() is None:
            remote.kill()
            remote.wait()


def _copied_by(rig: Rig, job_id: str, worker: str) -> int:
    return sum(r["done"] and r["worker"] == worker for r in rig.store.ranges_of(job_id))


def _task(rig: Rig, job_id: str, name: str) -> dict:
    return next((t for t in rig.store.kafka_tasks_of(job_id) if t["task"] == name), {})
