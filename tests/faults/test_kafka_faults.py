"""Kafka mode under faults: the job reaches Kafka, the source and the target through their
proxies; a stalled link (bytes stop, the socket stays open) or one whose connections are reset
(TCP RST) shows as a condition of the job (raised by the supervisor's health checks) while it
lasts, and the job converges once the link works again; 200 ms of latency on the Kafka link is
no fault at all. Works on a one-broker cluster as on three."""

from __future__ import annotations

import pytest

from fault_job import Workload, cleared, condition
from faults import latency, reset_peer, timeout
from kafka_job import KafkaJob

pytestmark = [
    pytest.mark.services,
    pytest.mark.disrupts("kafka-proxies", why="faults Kafka's links, which every worker shares"),
    pytest.mark.xdist_group("kafka-proxies"),
]


@pytest.mark.parametrize("fault", ["stalled", "reset"])
@pytest.mark.parametrize(
    ("proxy", "link"),
    [("kafka_1", "kafka"), ("ferretdb", "target"), ("postgres_replication", "replication")],
)
def test_a_broken_link_in_kafka_mode(routed_rig, faults, short_bounds, proxy, link, fault):
    rig = routed_rig
    job = KafkaJob.start(rig, faults.kafka_bootstrap())
    writes = Workload(rig, proxy, 20)
    with faults.proxy(proxy).toxic(timeout(0) if fault == "stalled" else reset_peer(0)):
        writes.start()
        found = condition(rig, job.id, {link})
        writes.join()
    job.applied()
    cleared(rig, job.id)
    rig.verify()
    assert rig.store.job(job.id)["status"] == "RUNNING"
    assert found["since"] is not None and found["last_error"]


def test_latency_on_the_kafka_link(routed_rig, faults):
    rig = routed_rig
    with faults.proxy("kafka_1").toxic(latency(200, jitter=50)):
        job = KafkaJob.start(rig, faults.kafka_bootstrap())
        writes = Workload(rig, "latency", 10)
        writes.run()
        job.applied()
    rig.verify()
    assert rig.store.job(job.id)["status"] == "RUNNING"
