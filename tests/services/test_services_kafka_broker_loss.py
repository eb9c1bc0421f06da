"""On the 3-node cluster, acks=all writes go on when one broker is killed, and none is lost."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import NewTopic

from kafka_cluster import WAIT, kill_node, require_three_brokers, restore_cluster, wait_for

pytestmark = [
    pytest.mark.services,
    pytest.mark.kafka3,
    pytest.mark.disrupts("kafka", why="kills a broker"),
    pytest.mark.xdist_group("kafka"),
]

PARTITIONS = 3
PER_ROUND = 300


def produce(producer: Producer, topic: str, numbers: range) -> None:
    errors: list[KafkaError] = []

    def on_delivery(err, _msg):
        if err is not None:
            errors.append(err)

    for n in numbers:
        producer.produce(topic, key=str(n % 7), value=str(n), on_delivery=on_delivery)
        producer.poll(0)
    left = producer.flush(WAIT)
    assert left == 0, f"{left} messages still undelivered after {WAIT}s"
    assert not errors, f"delivery failed: {errors[:3]}"


def consume_all(bootstrap: str, topic: str, expected: int) -> list[int]:
    # Partitions are assigned, not subscribed: no group coordinator needed while a node is down.
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"relmig-test-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    seen: list[int] = []
    deadline = time.monotonic() + WAIT
    try:
        while len(seen) < expected and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            seen.append(int(msg.value()))
        # Anything beyond `expected` would be a duplicate: give it a moment to show up.
        end = time.monotonic() + 2
        while time.monotonic() < end:
            msg = consumer.poll(0.2)
            if msg is not None and msg.error() is None:
                seen.append(int(msg.value()))
    finally:
        consumer.close()
    return seen


def test_acks_all_writes_survive_a_killed_broker(kafka_bootstrap, services_dir):
    admin = require_three_brokers(kafka_bootstrap)

    topic = f"relmig-test-broker-loss-{uuid.uuid4().hex[:8]}"
    admin.create_topics([NewTopic(topic, PARTITIONS, 3, config={"min.insync.replicas": "2"})])[
        topic
    ].result(timeout=30)

    def fully_replicated():
        t = admin.list_topics(topic, timeout=10).topics[topic]
        parts = list(t.partitions.values())
        ok = t.error is None and len(parts) == PARTITIONS
        return ok and all(len(p.isrs) == 3 and p.leader >= 0 for p in parts) and t

    meta = wait_for(fully_replicated, "the topic to be fully replicated")
    victim = meta.partitions[0].leader

    producer = Producer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "message.timeout.ms": WAIT * 1000,
        }
    )
    try:
        produce(producer, topic, range(PER_ROUND))

        kill_node(services_dir, victim)  # the leader of partition 0

        produce(producer, topic, range(PER_ROUND, 2 * PER_ROUND))
        seen = consume_all(kafka_bootstrap, topic, 2 * PER_ROUND)
        assert len(seen) == 2 * PER_ROUND, "lost or duplicated messages"
        assert sorted(seen) == list(range(2 * PER_ROUND))

        after = admin.list_topics(topic, timeout=10).topics[topic]
        assert all(p.leader != victim for p in after.partitions.values())
    finally:
        producer.flush(5)
        restore_cluster()
        admin.delete_topics([topic])
    assert len(admin.list_topics(timeout=15).brokers) == 3
