"""Kafka mode on the real 3-broker KRaft cluster: convergence, monitoring, scale-out, cleanup.

The source is PostgreSQL with the CDC rig's four-level mapping (fan-out included); every
check of the target is `verify`: nothing missing, extra or different.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
from confluent_kafka.admin import AdminClient
from typer.testing import CliRunner

from big_transactions import BASE, big_transaction
from cascade_rig import make_cascade_rig
from cdc_rig import Rig, cleanup_rig
from kafka_cluster import wait_for
from kafka_job import PARTITIONS, KafkaJob
from relmig.cli.app import app
from relmig.mongo.writer import MongoTarget
from relmig.project.model import CollectionRule, FieldRule, Project
from relmig.source.spool import SPILL_ENV
from relmig.transport.kafka.topics import topic_name

pytestmark = [pytest.mark.services, pytest.mark.kafka3]


def test_synthetic_relationships_and_expressions_through_kafka(synthetic_rig, kafka3):
    """Sink workers rebuild roots with the same builder: filters, calculated fields and custom
    `_id`s converge through Kafka as in embedded mode."""
    rig = synthetic_rig
    job = KafkaJob.start(rig, kafka3, workers=2)
    rig.verify()
    for seed in (11, 12):
        rig.workload(random.Random(seed), 40)
        job.applied()
        rig.verify()


def test_random_workload_through_kafka_converges_then_completes(any_rig, kafka3, monkeypatch):
    rig = any_rig
    job = KafkaJob.start(rig, kafka3, workers=2)
    rig.verify()  # the snapshot

    for seed in (1, 2, 3):
        rig.workload(random.Random(seed), 40)
        job.applied()
        rig.verify()

    # Monitoring: lag per partition, rates, last event, restarts and health per task.
    status = wait_for(
        lambda: (
            (s := job.status())["lag_total"] == 0
            and all(t["health"] == "ok" for t in s["tasks"])
            and s
        ),
        "a fresh measurement with no lag",
    )
    assert [p["partition"] for p in status["partitions"]] == list(range(PARTITIONS))
    names = ["source", "supervisor", "worker-1", "worker-2"]
    assert [t["task"] for t in status["tasks"]] == names
    assert status["last_applied_event_at"] is not None
    assert all(t["restarts"] == 0 for t in status["tasks"])
    assert rig.manager.describe(job.id)["kafka"]["topic"] == topic_name(job.id)
    monkeypatch.setenv("RELMIG_STATE_URL", rig.store.url)
    shown = CliRunner().invoke(app, ["jobs", "show", job.id])
    assert shown.exit_code == 0, shown.output
    assert "Partitions" in shown.output and "worker-2" in shown.output

    rig.workload(random.Random(4), 20)
    rig.manager.complete(job.id)
    rig.manager.wait(job.id, 120)
    done = rig.store.job(job.id)
    assert (done["status"], done["cdc_status"]) == ("COMPLETED", "COMPLETED")
    rig.verify()  # complete drained everything committed before it
    assert done["slot_dropped"]
    topics = AdminClient({"bootstrap.servers": kafka3}).list_topics(timeout=15).topics
    assert topic_name(job.id) not in topics


@pytest.fixture
def cascade_rig(services_settings, mongo_uri, tmp_path, monkeypatch, kafka3) -> Iterator[Rig]:
    monkeypatch.setenv("RELMIG_TEST_MYSQL_PASSWORD", services_settings["RELMIG_MYSQL_PASSWORD"])
    r = make_cascade_rig(services_settings, mongo_uri, tmp_path)
    yield r
    cleanup_rig(r)


def test_mariadb_cascades_through_kafka(cascade_rig, kafka3):
    """The source task routes a parent change whose cascades MariaDB did not log by asking the
    target where the children were, after the sinks applied every earlier message."""
    rig = cascade_rig
    job = KafkaJob.start(rig, kafka3, workers=2)
    rig.verify()
    for seed in (1, 2):
        rig.workload(random.Random(seed), 25)
        job.applied()
        rig.verify()
    assert rig.store.issues_of(job.id) == []


def test_relmig_worker_joins_the_group_from_another_process(rig, kafka3):
    job = KafkaJob.start(rig, kafka3, workers=0)  # every change waits for an outside worker
    env = {
        **os.environ,
        "RELMIG_STATE_URL": rig.store.url,
        "RELMIG_TARGET_URI": rig.target_uri,
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "relmig.cli", "worker", "--job", job.id, "--name", "elsewhere-1"],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        rig.workload(random.Random(5), 40)
        job.applied()
        rig.verify()
        assert job.task("elsewhere-1")["events_total"] > 0
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0  # finishes its batch, commits, leaves
    assert job.task("elsewhere-1")["state"] == "STOPPED"


def test_a_truncate_waits_for_the_sinks_then_is_applied_once(rig, kafka3):
    job = KafkaJob.start(rig, kafka3)
    rig.workload(random.Random(6), 30)
    # order_detail_notes sits four levels deep in customers: every customer may change.
    assert rig.execute([("TRUNCATE order_detail_notes", ())])
    rig.workload(random.Random(7), 30)  # notes come back
    job.applied()
    rig.verify()
    assert job.task("source")["restarts"] == 0


def test_pause_keeps_the_topic_and_resume_applies_what_came_meanwhile(rig, kafka3):
    job = KafkaJob.start(rig, kafka3)
    rig.workload(random.Random(8), 20)
    rig.manager.pause(job.id)
    rig.manager.wait(job.id, 120)
    paused = rig.store.job(job.id)
    assert (paused["status"], paused["cdc_status"]) == ("PAUSED", "PAUSED")
    assert all(t["state"] == "STOPPED" for t in job.status()["tasks"])
    topics = AdminClient({"bootstrap.servers": kafka3}).list_topics(timeout=15).topics
    assert topic_name(job.id) in topics

    rig.workload(random.Random(9), 30)  # while paused: the slot keeps them
    rig.manager.resume(job.id)
    rig.streaming(job.id)
    job.applied()
    rig.verify()


def test_a_transaction_spooled_to_disk_is_published_in_pieces(any_rig, kafka3, monkeypatch):
    """The source task (its own process) spools a transaction past the in-memory bound and
    routes and publishes it a piece at a time; the position moves once, after all of it."""
    monkeypatch.setenv(SPILL_ENV, "200")  # inherited by the job's task processes
    rig = any_rig
    job = KafkaJob.start(rig, kafka3)
    assert rig.execute(big_transaction(rig))
    job.applied()
    rig.verify()
    assert rig.query(f"SELECT count(*) FROM orders WHERE order_id >= {BASE}")[0][0] == 290


def test_a_breaking_schema_change_pauses_a_kafka_job(rig, kafka3):
    """The source task meets the renamed column, records the drift and exits; the supervisor
    pauses the job (not a failure, not a restart loop) before anything after the DDL."""
    job = KafkaJob.start(rig, kafka3, workers=1)
    rig.execute([("ALTER TABLE shippers RENAME COLUMN phone TO telephone", ())])
    rig.execute([("UPDATE shippers SET company_name = 'after-ddl'", ())])
    paused = rig.wait_for(job.id, lambda j: j["status"] == "PAUSED")
    assert paused["cdc_status"] == "PAUSED" and not paused["failure"]
    described = rig.manager.describe(job.id)
    assert [(d["kind"], d["column"]) for d in described["drift"]] == [("column gone", "phone")]
    assert described["resumable"] and described["resume_deadline"] is not None
    target = MongoTarget(rig.target_uri, rig.target_db)
    try:
        assert not target.db["orders"].count_documents({"shipper.company_name": "after-ddl"})
    finally:
        target.close()


def test_a_mapping_update_of_a_kafka_job_goes_through_its_sinks(rig, kafka3):
    """`jobs update` on a running Kafka-mode job: the supervisor stops its tasks for it, and
    the restarted source task publishes the copied collections' roots, a chunk between two
    batches, for the sinks to rebuild into the shadows; the last chunk waits for the sinks,
    then the shadow is swapped in and every task goes on with the new mapping."""
    job = KafkaJob.start(rig, kafka3, workers=2, batch_size=5)  # several chunks
    rig.workload(random.Random(40), 10)
    schema = rig.project.table(rig.project.collections[0].table).schema_
    rules = [
        c.model_copy(update={"fields": {"description": FieldRule(name="about")}})
        if c.name == "categories"
        else c
        for c in rig.project.collections
    ]
    rules.append(CollectionRule(name="shippers", table=f"{schema}.shippers"))
    new = Project.model_validate(
        {**rig.project.model_dump(by_alias=True), "collections": [r.model_dump() for r in rules]}
    )
    plan = rig.manager.update(job.id, new).as_dict()
    assert (plan["rebuild"], plan["add"]) == (["categories"], ["shippers"]), plan
    rig.workload(random.Random(41), 20)  # while the tasks restart and copy
    rig.wait_for(
        job.id,
        lambda _j: (
            all(r["state"] == "DONE" for r in rig.store.recopies_of(job.id))
            and len(rig.store.recopies_of(job.id)) == 2
        ),
    )
    rig.workload(random.Random(42), 10)
    job.applied()
    rig.project = new
    rig.verify()
    target = MongoTarget(rig.target_uri, rig.target_db)
    try:
        assert target.db["categories"].count_documents({"about": {"$exists": True}}) > 0
        assert not [n for n in target.collections() if n.startswith("relmig_recopy_")]
    finally:
        target.close()
    assert rig.store.job(job.id)["status"] == "RUNNING"
