"""Consumer lag of a job's sink group, per partition: committed offset against the log end.

The probe is a consumer that never subscribes, so it reads the group's committed offsets
without joining the group. (AdminClient's list_consumer_group_offsets can crash librdkafka on a
group that has no offsets yet: confluent-kafka-python#1982.)
"""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import OFFSET_INVALID, Consumer, KafkaException, TopicPartition

from relmig.transport.kafka.topics import (
    TIMEOUT,
    KafkaSettings,
    KafkaUnavailable,
    client_config,
    group_id,
    topic_name,
)


@dataclass(frozen=True, slots=True)
class PartitionLag:
    partition: int
    end_offset: int
    committed: int | None  # None: the group has committed nothing on this partition yet
    lag: int


class LagProbe:
    def __init__(self, settings: KafkaSettings, job_id: str) -> None:
        self.settings = settings
        self.topic = topic_name(job_id)
        self._consumer = Consumer(
            {
                **client_config(settings, f"relmig-lag-{job_id}"),
                "group.id": group_id(job_id),
                "enable.auto.commit": False,
            }
        )

    def measure(self) -> list[PartitionLag]:
        parts = [TopicPartition(self.topic, p) for p in range(self.settings.partitions)]
        try:
            committed = self._consumer.committed(parts, timeout=TIMEOUT)
            out = []
            for tp in committed:
                low, high = self._consumer.get_watermark_offsets(
                    TopicPartition(self.topic, tp.partition), timeout=TIMEOUT
                )
                done = tp.offset if tp.offset != OFFSET_INVALID else None
                out.append(PartitionLag(tp.partition, high, done, max(0, high - (done or low))))
        except KafkaException as exc:
            raise KafkaUnavailable(
                f"Kafka at {self.settings.bootstrap}: cannot read the offsets of {self.topic}: "
                f"{exc.args[0].str()}"
            ) from None
        return out

    def close(self) -> None:
        self._consumer.close()
