"""Consumer lag of a job's sink group, per partition: committed offset against the log end.

The probe is a consumer that never subscribes, so it reads the group's committed offsets
without joining the group. (AdminClient's list_consumer_group_offsets can crash librdkafka on a
group that has no offsets yet: confluent-kafka-python#1982.)
"""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import OFFSET_INVALID, Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from relmig.transport.kafka.topics import (
    KafkaSettings,
    KafkaUnavailable,
    client_config,
    group_id,
    topic_name,
)

PROBE_TIMEOUT = 5.0  # seconds, per request


@dataclass(frozen=True, slots=True)
class PartitionLag:
    partition: int
    end_offset: int
    committed: int | None  # None: the group has committed nothing on this partition yet
    lag: int


class LagProbe:
    def __init__(self, settings: KafkaSettings, job_id: str, topic: str | None = None) -> None:
        """`topic`: the job's changes topic unless given (a parallel snapshot's work topic)."""
        self.settings = settings
        self.topic = topic or topic_name(job_id)
        self._consumer = Consumer(
            {
                **client_config(settings, f"relmig-lag-{job_id}"),
                "group.id": group_id(job_id),
                "enable.auto.commit": False,
            }
        )
        self._admin = AdminClient(client_config(settings, f"relmig-lag-{job_id}"))

    def measure(self) -> list[PartitionLag]:
        """One request for the committed offsets, one for the log ends; a few seconds at most
        when Kafka is away, so the supervisor's loop goes on."""
        parts = [TopicPartition(self.topic, p) for p in range(self.settings.partitions)]
        try:
            committed = self._consumer.committed(parts, timeout=PROBE_TIMEOUT)
            ends = self._admin.list_offsets(
                {tp: OffsetSpec.latest() for tp in parts}, request_timeout=PROBE_TIMEOUT
            )
            end = {tp.partition: f.result().offset for tp, f in ends.items()}
        except KafkaException as exc:
            raise KafkaUnavailable(
                f"Kafka at {self.settings.bootstrap}: cannot read the offsets of {self.topic}: "
                f"{exc.args[0].str()}"
            ) from None
        out = []
        for tp in committed:
            done = tp.offset if tp.offset != OFFSET_INVALID else None
            high = end[tp.partition]
            # Nothing committed yet: everything in the partition waits (a compacted log may
            # start above 0, so this can overstate the lag, never hide it).
            out.append(PartitionLag(tp.partition, high, done, max(0, high - (done or 0))))
        return out

    def close(self) -> None:
        self._consumer.close()
