"""A sink worker: a member of the job's consumer group that rebuilds the roots it is sent.

Poll a batch, collapse it to the set of roots it names, rebuild them with the embedded
engine's applier (`apply_roots`: read current state, replace or delete), and only then commit
the offsets, synchronously. At-least-once delivery is safe because a rebuild is idempotent.

One partition is read by one member at a time, and a partition is only handed over inside a
poll, after this worker's previous batch is written and committed. A batch that runs past half
of max.poll.interval.ms (after which the group may hand its partitions to another member) stops
before its next write and exits without committing; the new owner replays it.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from relmig.apply.applier import ChangeApplier, cdc_plans
from relmig.failpoints import crash_point
from relmig.mongo.writer import MongoTarget
from relmig.runtime.gate import IssueGate
from relmig.source.connect import open_source
from relmig.source.sql import Row
from relmig.transport.kafka import envelope
from relmig.transport.kafka.snapshot_work import SnapshotWork
from relmig.transport.kafka.task import Reporter, TaskContext
from relmig.transport.kafka.topics import (
    client_config,
    group_id,
    subscription,
    topic_name,
    work_topic_name,
)

# Messages per poll, and how long a poll waits to fill up: as the embedded transport, a batch
# is what arrived within 0.2 s, so that roots repeated in it are rebuilt once.
BATCH = 5000
BATCH_WAIT = 0.2
CHUNK = 500  # roots per write, and how often the fence is checked
DYNAMIC_SESSION_MS = 10_000
MAX_POLL_INTERVAL_MS = 300_000


class Fenced(Exception):
    """This worker may no longer own its partitions; its batch is left to the new owner."""


class SinkWorker:
    def __init__(
        self,
        ctx: TaskContext,
        reporter: Reporter,
        stop: threading.Event,
        instance_id: str | None = None,
    ) -> None:
        self.ctx = ctx
        self.reporter = reporter
        self.stop = stop
        self.instance_id = instance_id
        self._partitions: set[tuple[str, int]] = set()
        self.work_topic = work_topic_name(ctx.job_id)
        self.work: SnapshotWork | None = None
        self._fatal: KafkaError | None = None
        self._down = False

    def run(self) -> None:
        ctx = self.ctx
        source = open_source(ctx.project.source)
        source.conn  # noqa: B018 - connect now: a worker that cannot read the source fails at once
        target = MongoTarget(ctx.target_uri, ctx.job["target_db"])
        config: dict[str, Any] = {
            **client_config(ctx.settings, f"relmig-sink-{ctx.task}"),
            "group.id": group_id(ctx.job_id),
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "max.poll.interval.ms": MAX_POLL_INTERVAL_MS,
            "allow.auto.create.topics": False,
            # The subscription is a pattern: a topic created after the worker started (the
            # work topic of a parallel snapshot, the changes topic) is found within seconds.
            "topic.metadata.refresh.interval.ms": 5000,
            "error_cb": self._on_error,
        }
        if self.instance_id:
            # Static membership: a restarted worker gets its partitions back without a rebalance.
            config["group.instance.id"] = self.instance_id
        else:
            # A dynamic member (a parallel snapshot's worker, a `relmig worker` elsewhere) that
            # dies holds its work items until its session times out: 10 s, not librdkafka's
            # 45, so the group hands them on sooner (a range copied twice is harmless).
            config["session.timeout.ms"] = DYNAMIC_SESSION_MS
        consumer = Consumer(config)
        try:
            self._source, self._target = source, target
            self._remap()
            self.work = SnapshotWork(ctx, source, target, self.reporter, self.stop)
            consumer.subscribe(
                [subscription(ctx.job_id)],
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_revoke,
            )
            while not self.stop.is_set():
                messages = consumer.consume(BATCH, timeout=BATCH_WAIT)
                if self._fatal is not None:
                    raise KafkaException(self._fatal)
                if not messages:
                    self._idle(consumer)
                    continue
                messages = [m for m in messages if not _no_topic_yet(m)]
                for message in messages:
                    if message.error() is not None:
                        raise KafkaException(message.error())
                ranges = [m for m in messages if m.topic() == self.work_topic]
                changes = [m for m in messages if m.topic() != self.work_topic]
                if ranges:
                    self.work.run(ranges)
                if changes:
                    self._apply(changes)
                    crash_point("kafka-sink-written")
                self._commit(consumer)
        finally:
            consumer.close()
            if self.work is not None:
                self.work.close()
            target.close()
            source.close()

    def _remap(self) -> None:
        """Build the applier for the job's project as it streams now."""
        ctx = self.ctx = self.ctx.reloaded()
        gate = IssueGate(ctx.project, self._target, ctx.store, ctx.job_id, ctx.policy())
        plans = cdc_plans(ctx.project, self._source, self._target)
        self.applier = ChangeApplier(plans, self._source, gate)

    def _apply(self, messages: list[Message]) -> None:
        fence = time.monotonic() + MAX_POLL_INTERVAL_MS / 2000
        roots: dict[str, set[Row]] = {}
        newest = 0
        for message in messages:
            received = envelope.decode(message.value())
            newest = max(newest, received.source_ts_ms)
            if received.collection is not None:  # truncates were applied by the source task
                roots.setdefault(received.collection, set()).add(received.key)
        if any(c not in self.applier.builders for c in roots):
            # A mapping update swapped a collection in since this worker started; a root of a
            # collection still unknown was published under the mapping the update replaced,
            # and the update's copy, read after it, covers it.
            self._remap()
            roots = {c: keys for c, keys in roots.items() if c in self.applier.builders}
        for collection, keys in roots.items():
            ordered = list(keys)
            for start in range(0, len(ordered), CHUNK):
                if time.monotonic() > fence:
                    raise Fenced("the batch ran too long; its partitions may have a new owner")
                self.applier.apply_roots({collection: set(ordered[start : start + CHUNK])})
                self.reporter.beat()
        at = dt.datetime.fromtimestamp(newest / 1000, dt.UTC)
        self.reporter.progress(len(messages), at, time.time() - newest / 1000)

    def _commit(self, consumer: Consumer) -> None:
        try:
            consumer.commit(asynchronous=False)
        except KafkaException as exc:
            err = exc.args[0]
            if err.code() == KafkaError._NO_OFFSET:
                return
            if err.fatal():
                raise
            # Not committed (a rebalance, brokers away): the next commit covers these offsets,
            # or the partition's next owner replays them, which converges.
            self.reporter.beat(force=True, last_error=f"commit: {err.str()}")
            return
        if self._down:
            self._down = False
            self.reporter.waiting(None)

    def _idle(self, consumer: Consumer) -> None:
        if self._down:
            try:  # brokers reported down: ask for metadata to see whether they are back
                consumer.list_topics(topic_name(self.ctx.job_id), timeout=2.0)
                self._down = False
                self.reporter.waiting(None)
            except KafkaException:
                pass
        self.reporter.beat(lag_seconds=0.0)

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self._fatal = err
        elif err.code() == KafkaError._ALL_BROKERS_DOWN:
            self._down = True
            self.reporter.waiting(f"Kafka at {self.ctx.settings.bootstrap}: {err.str()}")

    # Rebalance callbacks run inside consume(), between batches: never during a write.

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned(self._partitions | {(p.topic, p.partition) for p in partitions})

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned(self._partitions - {(p.topic, p.partition) for p in partitions})

    def _assigned(self, partitions: set[tuple[str, int]]) -> None:
        """Reported as `0,1,w0,w1`: the changes topic's partitions, then the work topic's."""
        self._partitions = partitions
        mine = sorted((t == self.work_topic, p) for t, p in partitions)
        shown = ",".join(("w" if work else "") + str(p) for work, p in mine)
        self.reporter.beat(force=True, assigned=shown)


def _no_topic_yet(message: Message) -> bool:
    """The subscription matches no topic yet (a worker started before its job's topics):
    it finds them when they appear."""
    error = message.error()
    return error is not None and error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
