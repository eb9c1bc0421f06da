"""Kafka mode recovers by itself: broker loss, killed tasks, a whole cluster down, a dead server;
and gives up, with the reason, once its recovery window is over (injected clock).

Every wait is bounded (kafka_cluster.WAIT, the rig's catch-up time); no assertion is on timing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys

import pytest
from confluent_kafka.admin import AdminClient

from kafka_cluster import NODES, kill_node, restore_cluster, running, wait_for
from kafka_job import KafkaJob, Writer
from relmig.runtime.jobs import JobManager
from relmig.runtime.store import utcnow
from relmig.source.capture import open_capture
from relmig.source.pg_capture import slot_name
from relmig.transport.kafka.topics import topic_name

pytestmark = [pytest.mark.services, pytest.mark.kafka3]


def _unhealthy(job: KafkaJob) -> bool:
    """The supervisor's job-level check has failed: its recovery clock is running."""
    return (job.task("supervisor").get("health") or "").startswith("unhealthy since")


@pytest.mark.disrupts("kafka", why="kills a broker")
@pytest.mark.xdist_group("kafka")
def test_a_killed_broker_under_steady_writes_loses_nothing(rig, kafka3, services_dir):
    job = KafkaJob.start(rig, kafka3)
    writer = Writer(rig, seed=11, transactions=150)
    writer.start()
    wait_for(lambda: writer.committed >= 40, "the first writes")
    admin = AdminClient({"bootstrap.servers": kafka3})
    topic = admin.list_topics(topic_name(job.id), timeout=15).topics[topic_name(job.id)]
    kill_node(services_dir, topic.partitions[0].leader)  # mid-CDC, while writes go on
    writer.join()
    assert writer.committed > 80
    job.applied()
    rig.verify()  # nothing missing, extra or different
    assert rig.store.job(job.id)["status"] == "RUNNING"


def test_a_killed_sink_worker_is_restarted_and_catches_up(rig, kafka3):
    job = KafkaJob.start(rig, kafka3)
    victim = job.running("worker-1")["pid"]
    os.kill(victim, signal.SIGKILL)
    rig.workload(random.Random(21), 40)
    wait_for(lambda: job.task("worker-1")["restarts"] >= 1, "worker-1 to be restarted")
    assert job.running("worker-1")["pid"] != victim
    job.applied()
    rig.verify()


def test_a_killed_source_task_resumes_from_its_checkpoint(rig, kafka3):
    job = KafkaJob.start(rig, kafka3)
    rig.workload(random.Random(31), 30)
    job.applied()
    checkpoint = rig.store.job(job.id)["position"]
    victim = job.running("source")["pid"]
    os.kill(victim, signal.SIGKILL)
    rig.workload(random.Random(32), 30)  # while the source task is down
    wait_for(lambda: job.task("source")["restarts"] >= 1, "the source task to be restarted")
    assert job.running("source")["pid"] != victim
    job.applied()
    rig.verify()
    capture = open_capture(rig.project, job.id)
    try:
        position = rig.store.job(job.id)["position"]
        assert position != checkpoint and capture.reached(position, checkpoint)
    finally:
        capture.close()


@pytest.mark.disrupts("kafka", why="kills every broker")
@pytest.mark.xdist_group("kafka")
def test_all_brokers_down_then_back_recovers_without_anyone_acting(rig, kafka3, services_dir):
    job = KafkaJob.start(rig, kafka3)
    rig.workload(random.Random(41), 20)
    job.applied()
    for node in range(1, NODES + 1):
        kill_node(services_dir, node)
    rig.workload(random.Random(42), 30)  # the source task reads them; Kafka cannot take them
    wait_for(lambda: _unhealthy(job), "the supervisor to notice the cluster is gone")
    restore_cluster()
    job.applied()
    rig.verify()
    assert rig.store.job(job.id)["status"] == "RUNNING"


@pytest.mark.disrupts("kafka", why="kills every broker")
@pytest.mark.xdist_group("kafka")
def test_failing_past_the_recovery_window_fails_the_job_and_drops_its_slot(
    rig, kafka3, services_dir
):
    now = [utcnow()]
    rig.manager = JobManager(rig.store, clock=lambda: now[0])
    job = KafkaJob.start(rig, kafka3)
    for node in range(1, NODES + 1):
        kill_node(services_dir, node)
    wait_for(lambda: _unhealthy(job), "the supervisor to notice the cluster is gone")
    now[0] += dt.timedelta(hours=24, minutes=1)  # the default window is 24 h
    failed = wait_for(
        lambda: (j := rig.store.job(job.id))["status"] == "FAILED" and j, "the job to fail"
    )
    assert "recovery window of 24 h" in failed["failure"], failed["failure"]
    assert "replication slot was dropped" in failed["failure"], failed["failure"]
    assert failed["slot_dropped"]
    rows = rig.query(
        f"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot_name(job.id)}'"
    )
    assert rows[0][0] == 0
    assert not rig.manager.describe(job.id)["resumable"]


def test_a_task_failing_past_the_recovery_window_fails_the_job_with_its_error(rig, kafka3):
    now = [utcnow()]
    rig.manager = JobManager(rig.store, clock=lambda: now[0])
    job = KafkaJob.start(rig, kafka3)
    # From now on a restarted task cannot log in to the source: it fails again at each start.
    password = os.environ["RELMIG_TEST_PG_PASSWORD"]
    os.environ["RELMIG_TEST_PG_PASSWORD"] = "not-the-password"
    try:
        os.kill(job.running("worker-1")["pid"], signal.SIGKILL)
        # The supervisor has seen the restarted task fail (not only the task its own error):
        # the job's failure reports the problem the supervisor last saw.
        wait_for(
            lambda: "password authentication failed" in (job.task("worker-1")["health"] or ""),
            "the supervisor to see worker-1 fail at its restart",
        )
        wait_for(lambda: _unhealthy(job), "the supervisor's recovery clock to start")
        now[0] += dt.timedelta(hours=24, minutes=1)
        failed = wait_for(
            lambda: (j := rig.store.job(job.id))["status"] == "FAILED" and j, "the job to fail"
        )
    finally:
        os.environ["RELMIG_TEST_PG_PASSWORD"] = password
    assert "recovery window of 24 h" in failed["failure"], failed["failure"]
    assert "worker-1" in failed["failure"] and "password" in failed["failure"]
    assert failed["slot_dropped"]


# The "server" creates the job and runs it with its task processes: a job belongs to the
# process that created it.
RUN_JOB = """
import json, sys
from relmig.project.model import Project
from relmig.runtime.jobs import JobManager, JobOptions
from relmig.runtime.store import StateStore
url, project, target_uri, target_db, options = sys.argv[1:]
manager = JobManager(StateStore(url))
job_id = manager.create(
    Project.model_validate_json(project), target_uri, target_db, JobOptions(**json.loads(options))
)
manager.run(job_id, target_uri)
"""


def test_kafka_jobs_resume_by_themselves_after_a_server_restart(rig, kafka3):
    options = {
        "engine": "kafka",
        "kafka_bootstrap": kafka3,
        "kafka_partitions": 4,
        "kafka_workers": 2,
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            RUN_JOB,
            rig.store.url,
            rig.project.model_dump_json(by_alias=True),
            rig.target_uri,
            rig.target_db,
            json.dumps(options),
        ]
    )
    job_id = rig.wait_for_new_job()
    job = KafkaJob(rig, job_id, kafka3)
    rig.streaming(job_id)
    tasks = [job.running(name)["pid"] for name in ("source", "worker-1", "worker-2")]
    server.send_signal(signal.SIGKILL)
    server.wait()
    wait_for(lambda: not any(running(pid) for pid in tasks), "the tasks to die with the server")
    rig.workload(random.Random(51), 30)  # while nothing runs

    restarted = JobManager(rig.store)  # the server starts again
    rig.manager = restarted
    assert restarted.resume_after_restart() == [job_id]
    rig.streaming(job_id)
    job.applied()
    rig.verify()
