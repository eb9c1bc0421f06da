"""A parallel snapshot's key ranges as work items of the job's worker group (Kafka mode).

The job's process publishes one message per unfinished range to the work topic
`relmig.<job>.snapshot`. Every member of the group `relmig.<job>` consumes it next to the
changes topic: the supervisor's snapshot workers and any `relmig worker` on another machine.
Kafka does the distributed part: partitions spread the items over the members, a member that
dies or joins moves partitions with the group's rebalance, committed offsets say what is done.

A worker copies ranges for at most WORK_SECONDS per batch (the group must hear from it within
max.poll.interval.ms, and a long range must not sit on one member while others wait), then
publishes every range of the batch that is not done again, to the same partition, and only
then commits. So an unfinished range always has a message after the committed offset: none is
lost when a worker dies. A range delivered twice is harmless: its checkpoint moves by
compare-and-set (relmig.runtime.range_copy), so a page is counted once whoever wrote it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from confluent_kafka import Message, Producer

from relmig.mongo.writer import MongoTarget
from relmig.runtime.gate import IssueGate
from relmig.runtime.range_copy import RangeCopier, shared_policy
from relmig.source.sql import SqlSource
from relmig.transport.kafka.task import Reporter, TaskContext
from relmig.transport.kafka.topics import KafkaSettings, client_config, work_topic_name

WORK_SECONDS = 30.0


class Interrupted(Exception):
    """Asked to stop while Kafka was away: nothing is committed, the items are redelivered."""


@dataclass(frozen=True, slots=True)
class WorkItem:
    collection: str
    number: int
    issues_before: int  # the job's problems before this snapshot began (its error budget)

    @property
    def key(self) -> bytes:
        return f"{self.collection} {self.number}".encode()

    def encode(self) -> bytes:
        return json.dumps(
            {
                "collection": self.collection,
                "range": self.number,
                "issues_before": self.issues_before,
            }
        ).encode()

    @classmethod
    def decode(cls, raw: bytes) -> WorkItem:
        item = json.loads(raw)
        return cls(item["collection"], int(item["range"]), int(item["issues_before"]))


def producer(settings: KafkaSettings, client: str) -> Producer:
    """Idempotent, acks=all, never giving up on a message: a range must not be lost."""
    return Producer(
        {
            **client_config(settings, client),
            "enable.idempotence": True,
            "acks": "all",
            "message.timeout.ms": 0,
            "allow.auto.create.topics": False,
        }
    )


def flush(out: Producer, stop: Callable[[], bool], beat: Callable[[], None]) -> None:
    """Wait until Kafka has every message; a stop while it is away raises Interrupted."""
    while out.flush(1.0):
        beat()
        if stop():
            raise Interrupted("stopped while Kafka had not acknowledged the work items")


def publish(out: Producer, job_id: str, items: Iterable[WorkItem], partitions: int) -> None:
    """One message per item, spread over the partitions in the order given (largest first,
    so that each member's first items are the long ones)."""
    topic = work_topic_name(job_id)
    for i, item in enumerate(items):
        out.produce(topic, item.encode(), item.key, partition=i % partitions)
        out.poll(0)


class SnapshotWork:
    """A worker's share of the snapshot: the items Kafka hands it, copied and requeued."""

    def __init__(
        self,
        ctx: TaskContext,
        source: SqlSource,
        target: MongoTarget,
        reporter: Reporter,
        stop: threading.Event,
    ) -> None:
        self.ctx = ctx
        self.source = source
        self.target = target
        self.reporter = reporter
        self.stop = stop
        self._copiers: dict[int, RangeCopier] = {}
        self._out: Producer | None = None

    def close(self) -> None:
        for copier in self._copiers.values():
            copier.close()
        if self._out is not None:
            self._out.flush(5.0)

    def run(self, messages: list[Message]) -> None:
        """Copy the items' ranges for WORK_SECONDS at most; publish again what is not done."""
        deadline = time.monotonic() + WORK_SECONDS

        def halt() -> str | None:
            self.reporter.beat()
            if self.stop.is_set() or time.monotonic() > deadline:
                return "STOP"
            return None

        again: list[Message] = []
        for message in messages:
            item = WorkItem.decode(message.value())
            if halt() or not self._copier(item).copy(item.collection, item.number, halt):
                again.append(message)
        if again:
            out = self._producer()
            for message in again:
                out.produce(
                    message.topic(), message.value(), message.key(), partition=message.partition()
                )
            flush(out, self.stop.is_set, self.reporter.beat)

    def _copier(self, item: WorkItem) -> RangeCopier:
        copier = self._copiers.get(item.issues_before)
        if copier is None:
            ctx = self.ctx
            policy = shared_policy(ctx.store, ctx.job_id, item.issues_before)
            gate = IssueGate(ctx.project, self.target, ctx.store, ctx.job_id, policy)
            copier = RangeCopier(ctx.project, self.source, gate, ctx.store, ctx.job_id, ctx.task)
            self._copiers[item.issues_before] = copier
        return copier

    def _producer(self) -> Producer:
        if self._out is None:
            self._out = producer(self.ctx.settings, f"relmig-work-{self.ctx.task}")
        return self._out
