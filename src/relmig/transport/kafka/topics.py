"""The job's topic and consumer group: names, creation with the right durability, deletion.

The topic is compacted by root: a sink only needs to know that a root changed after its
committed offset, and compaction keeps the latest message of every root, so a job may stay
paused for any time without losing a change while the topic stays bounded by the number of
distinct roots (time- or size-based retention would delete unapplied changes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from relmig.errors import RelmigError
from relmig.timeouts import stream_timeout
from relmig.transport.kafka.security import SECURITY_OPTIONS, security_config

TIMEOUT = 15.0  # seconds, for one admin request


class KafkaUnavailable(RelmigError):
    """The cluster could not be reached or refused an admin request (retried by callers)."""

    link = "kafka"


class KafkaRefused(RelmigError):
    """The cluster answered and refused relmig (its certificate, the SASL credentials): a
    setting must change, so it is not retried as a lost link."""


# librdkafka's codes for a TLS handshake or a SASL login that failed.
REFUSALS = (KafkaError._SSL, KafkaError._AUTHENTICATION)


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    """A job's Kafka options, as JobOptions stores them."""

    bootstrap: str
    partitions: int = 6
    workers: int = 2
    keep_topics: bool = False
    # TLS and SASL (relmig.transport.kafka.security), as the job's options hold them.
    security: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, options: dict[str, Any]) -> KafkaSettings:
        return cls(
            bootstrap=options["kafka_bootstrap"],
            partitions=options["kafka_partitions"],
            workers=options["kafka_workers"],
            keep_topics=options["keep_topics"],
            security=tuple((k, v) for k, v in options.items() if k in SECURITY_OPTIONS),
        )


def topic_name(job_id: str) -> str:
    return f"relmig.{job_id}.changes"


def work_topic_name(job_id: str) -> str:
    """A parallel snapshot's key ranges, as work items of the job's worker group."""
    return f"relmig.{job_id}.snapshot"


def subscription(job_id: str) -> str:
    """What a worker subscribes to: both topics of the job, as a pattern, so a worker started
    before either exists picks it up when it appears (job ids are `job-<hex>`)."""
    return "^" + f"relmig.{job_id}.".replace(".", "\\.") + "(changes|snapshot)$"


def group_id(job_id: str) -> str:
    return f"relmig.{job_id}"


def client_config(settings: KafkaSettings, client_id: str) -> dict[str, Any]:
    """What every client of the job shares. librdkafka logs only critical events: while a
    broker is away it would log every reconnect attempt, and the tasks' health rows (fed by
    error callbacks and timeouts) already say what is wrong."""
    return {
        "bootstrap.servers": settings.bootstrap,
        "client.id": client_id,
        "log_level": 2,
        # A request without an answer for the stream timeout takes its broker connection down
        # (it is opened again and the request retried: the producer is idempotent); keepalives
        # notice a broker that vanished.
        "socket.timeout.ms": int(stream_timeout() * 1000),
        "socket.keepalive.enable": True,
    } | security_config(dict(settings.security))


@dataclass(frozen=True, slots=True)
class TopicSpec:
    partitions: int
    replication: int
    min_insync: int


def spec_for(brokers: int, partitions: int) -> TopicSpec:
    """RF=3 and min.insync.replicas=2 on a cluster of three or more brokers: losing one broker
    loses nothing and stops nothing. Smaller clusters get what they can hold."""
    replication = min(3, brokers)
    return TopicSpec(partitions, replication, 2 if replication >= 3 else 1)


class Cluster:
    """Admin requests for one job's topic and group."""

    def __init__(self, settings: KafkaSettings, job_id: str) -> None:
        self.settings = settings
        self.job_id = job_id
        self.topic = topic_name(job_id)
        self.work_topic = work_topic_name(job_id)
        self.group = group_id(job_id)
        self._refusal: KafkaError | None = None
        config = client_config(settings, f"relmig-admin-{job_id}")
        self.admin = AdminClient(config | {"error_cb": self._on_error})

    def _on_error(self, err: KafkaError) -> None:
        if err.code() in REFUSALS:
            self._refusal = err

    def ensure_topic(self, topic: str | None = None) -> TopicSpec:
        """Create the job's topic (or its work topic) if it is missing; an existing one must
        keep its partitions.

        The source task picks a root's partition from the partition count, so changing the
        count under a running job would let two workers own one root.
        """
        topic = topic or self.topic
        partitions = self.settings.partitions
        try:
            meta = self.admin.list_topics(timeout=TIMEOUT)
            existing = meta.topics.get(topic)
            if existing is not None and existing.error is None:
                found = len(existing.partitions)
                if found != partitions:
                    raise RelmigError(
                        f"topic {topic} has {found} partitions but the job uses "
                        f"{partitions}; a job's partition count cannot change"
                    )
                replicas = len(next(iter(existing.partitions.values())).replicas)
                return spec_for(replicas, found)
            spec = spec_for(len(meta.brokers), partitions)
            new = NewTopic(
                topic,
                num_partitions=spec.partitions,
                replication_factor=spec.replication,
                config={
                    "min.insync.replicas": str(spec.min_insync),
                    "cleanup.policy": "compact",
                    "segment.ms": str(3600 * 1000),  # compaction reaches closed segments hourly
                },
            )
            future = self.admin.create_topics([new], operation_timeout=TIMEOUT)[topic]
            try:
                future.result(timeout=TIMEOUT * 2)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
            return spec
        except KafkaException as exc:
            raise self._unavailable("cannot create the topic", exc) from None

    def delete(self) -> None:
        """Delete the topics and the group's committed offsets; what is already gone (or was
        never made: the work topic of a serial snapshot) is fine."""
        try:
            topics = [self.topic, self.work_topic]
            futures = self.admin.delete_topics(topics, operation_timeout=TIMEOUT)
            for topic in topics:
                try:
                    futures[topic].result(TIMEOUT * 2)
                except KafkaException as exc:
                    if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                        raise
            groups = self.admin.delete_consumer_groups([self.group], request_timeout=TIMEOUT)
            try:
                groups[self.group].result()
            except KafkaException as exc:
                # Static members stay in the group until their session times out; the broker
                # then expires the group's offsets by itself (offsets.retention.minutes).
                if exc.args[0].code() not in (
                    KafkaError.GROUP_ID_NOT_FOUND,
                    KafkaError.NON_EMPTY_GROUP,
                ):
                    raise
        except KafkaException as exc:
            raise self._unavailable(
                f"cannot delete topic {self.topic} and group {self.group}", exc
            ) from None

    def _unavailable(self, what: str, exc: KafkaException) -> RelmigError:
        """The error for a failed admin request: a refusal if the client saw one (its error
        callbacks say why a request found no broker), else a lost link."""
        self.admin.poll(0)
        if self._refusal is not None:
            return KafkaRefused(
                f"Kafka at {self.settings.bootstrap} refused relmig: {self._refusal.str()} "
                "(check the job's Kafka security: --kafka-ca-file must be the CA that signed "
                "the brokers' certificates, the bootstrap hosts names they hold, and the user "
                "and password right)"
            )
        return KafkaUnavailable(f"Kafka at {self.settings.bootstrap}: {what}: {exc.args[0].str()}")
