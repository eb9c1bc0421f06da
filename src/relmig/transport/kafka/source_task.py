"""The source task: one per job (a slot has exactly one reader), change stream → Kafka.

Each batch of transactions is routed by the embedded engine's router to the roots its changes
affect; every (change, root) becomes a message keyed and partitioned by the root. Only when
Kafka has acknowledged every message of the batch (idempotent producer, acks=all) is the
position saved and confirmed to the source, so a crash replays, never skips (DESIGN-NOTES §2.2).

A TRUNCATE touches roots in every partition, so it is a barrier: once the sinks have applied
everything before it, the task applies it with the embedded applier itself, then goes on.
"""

from __future__ import annotations

import threading
import time

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from relmig.apply.applier import ChangeApplier, cdc_plans
from relmig.documents.builder import Page
from relmig.errors import SchemaChanged
from relmig.failpoints import crash_point
from relmig.mongo.writer import MongoTarget
from relmig.runtime.gate import IssueGate
from relmig.runtime.recopy import Recopier
from relmig.runtime.store import utcnow
from relmig.source.capture import open_capture
from relmig.source.changes import RowChange, TableTruncate, Transaction, last_change_at
from relmig.source.connect import open_source
from relmig.source.sql import Row
from relmig.transport.inprocess import BatchBudget, InProcessTransport
from relmig.transport.kafka import envelope
from relmig.transport.kafka.lag import LagProbe
from relmig.transport.kafka.task import Reporter, TaskContext
from relmig.transport.kafka.topics import KafkaUnavailable, client_config, topic_name


class Interrupted(Exception):
    """Asked to stop in the middle of a batch: its position is not saved, so it replays."""


class SourceTask:
    def __init__(self, ctx: TaskContext, reporter: Reporter, stop: threading.Event) -> None:
        self.ctx = ctx
        self.reporter = reporter
        self.stop = stop
        self.topic = topic_name(ctx.job_id)
        self.origin = envelope.Origin.of(ctx.project, ctx.job_id)
        self._failed: list[KafkaError] = []
        # Published messages the sinks may not have applied yet (a cascade's lookup waits).
        self._unapplied = True

    def run(self) -> None:
        ctx = self.ctx
        source = open_source(ctx.project.source)
        capture = self.capture = open_capture(ctx.project, ctx.job_id)
        target = MongoTarget(ctx.target_uri, ctx.job["target_db"])
        self.producer = Producer(
            {
                **client_config(ctx.settings, f"relmig-source-{ctx.job_id}"),
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 10,
                "compression.type": "lz4",
                # Never give up on a message: the supervisor's recovery window bounds the wait.
                "message.timeout.ms": 0,
                "allow.auto.create.topics": False,
            }
        )
        try:
            self._source, self._target = source, target
            self._remap()
            position = ctx.store.job(ctx.job_id)["position"]
            stream = capture.stream(
                position, lambda d: ctx.store.record_drift(ctx.job_id, d, utcnow())
            )
            transport = InProcessTransport(stream)
            try:
                if self.recopy.copied:  # swap before publishing anything with the shadow
                    self._copy()
                self._loop(transport)
            except SchemaChanged as exc:  # the job pauses: its supervisor reads why from here
                ctx.store.record_drift(ctx.job_id, exc.drifts, utcnow())
                raise
            finally:
                transport.close()
        finally:
            target.close()
            capture.close()
            source.close()

    def _remap(self) -> None:
        """Route with the job's project as it streams now (a collection swapped in)."""
        ctx = self.ctx = self.ctx.reloaded()
        gate = IssueGate(ctx.project, self._target, ctx.store, ctx.job_id, ctx.policy())
        plans = cdc_plans(ctx.project, self._source, self._target)
        self.applier = ChangeApplier(plans, self._source, gate)
        batch_size = ctx.job["options"].get("batch_size", 1000)
        self.recopy = Recopier(
            ctx.store, ctx.job_id, ctx.project, self._source, self._target, batch_size
        )

    def _loop(self, transport: InProcessTransport) -> None:
        budget = BatchBudget()
        for batch in transport.batches(budget, busy=lambda: self.recopy.pending):
            if self.stop.is_set():
                return
            if not batch:
                self._copy()
                continue
            started = time.monotonic()
            txns = [e for e in batch if isinstance(e, Transaction)]
            if txns:
                self.capture.wait_visible(txns)  # routing reads the source's current rows
            try:
                self._publish(txns)
            except Interrupted:
                return
            if txns:
                crash_point("kafka-published")
            position = batch[-1].position
            events = sum(len(t.changes) for t in txns)
            newest = txns[-1].commit_time if txns else None
            # Kafka has every message up to here: now, and only now, the position may move on.
            self.ctx.store.save_position(self.ctx.job_id, position, events, last_change_at(txns))
            budget.record(events, time.monotonic() - started)
            transport.confirm(position)
            lag = (utcnow() - newest).total_seconds() if newest else 0.0
            self.reporter.progress(events, newest, lag)
            self._copy()

    def _copy(self) -> None:
        """A chunk of a mapping update's copy, published as roots for the sinks to rebuild
        (after every change published so far: relmig.runtime.recopy says why that order is
        safe); the last one waits for the sinks before its collection is swapped in."""
        if not self.recopy.pending:
            return
        try:
            if self.recopy.step(self._publish_chunk, lambda: self._drained("a re-copy")):
                self._remap()
        except Interrupted:
            return

    def _publish_chunk(self, shadow: str, page: Page) -> None:
        builder = self.applier.builders[shadow]
        table = builder.plan.node.table.id
        position = self.ctx.store.job(self.ctx.job_id)["position"]
        for built in page.built:
            key = built.key
            root = envelope.root_key(shadow, builder.filter_for(key), key)
            self._produce(root, envelope.rebuild_message(self.origin, table, shadow, key, position))
        self._flush()

    def _publish(self, txns: list[Transaction]) -> None:
        pending: list[tuple[Transaction, RowChange]] = []
        for txn in txns:
            for change in txn.changes:
                if isinstance(change, TableTruncate):
                    self._send(pending)
                    pending = []
                    self._truncate(txn, change)
                else:
                    if self._unapplied and self.applier.router.reads_target(change):
                        # Its routing asks the target where the cascaded children are: what was
                        # published before must be there first. (What is published after it
                        # is rebuilt from the source as the cascade left it.)
                        self._send(pending)
                        pending = []
                        self._flush()
                        self._drained("a cascade's lookup")
                    pending.append((txn, change))
                    if len(pending) >= self.applier.route_chunk:  # a large transaction
                        self._send(pending)
                        pending = []
        self._send(pending)
        self._flush()

    def _send(self, pending: list[tuple[Transaction, RowChange]]) -> None:
        """One message per root the changes reach, carrying the last change that reached it.

        A sink rebuilds a root from the source's current rows, so one message after the last
        change of a batch does the work of all of them; the topic is compacted by root anyway.
        Fan-out (one parent row in many documents) makes this the difference between
        publishing every (change, root) pair and each root once.
        """
        if not pending:
            return
        routed = self.applier.router.route_each([change for _, change in pending])
        last: dict[bytes, tuple[Transaction, RowChange, str, Row]] = {}
        for (txn, change), roots in zip(pending, routed, strict=True):
            for collection, keys in roots.items():
                builder = self.applier.builders[collection]
                for key in keys:
                    root = envelope.root_key(collection, builder.filter_for(key), key)
                    last.pop(root, None)  # re-inserted: messages keep the order of changes
                    last[root] = (txn, change, collection, key)
        for root, (txn, change, collection, key) in last.items():
            self._produce(
                root,
                envelope.change_message(
                    self.origin, change, collection, key, txn.position, txn.commit_time
                ),
            )

    def _produce(self, key: bytes, value: bytes, partition: int | None = None) -> None:
        self._unapplied = True
        if partition is None:
            partition = envelope.partition_of(key, self.ctx.settings.partitions)
        while True:
            try:
                self.producer.produce(
                    self.topic, value, key, partition=partition, on_delivery=self._delivered
                )
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                self.producer.poll(0.1)
        self.producer.poll(0)

    def _delivered(self, err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            self._failed.append(err)

    def _flush(self) -> None:
        """Until Kafka has acknowledged every message; brokers may be down for a while."""
        waited = time.monotonic()
        while (left := self.producer.flush(1.0)) > 0:
            if self.stop.is_set():
                raise Interrupted
            seconds = time.monotonic() - waited
            self.reporter.waiting(
                f"{left} message(s) not acknowledged by Kafka at "
                f"{self.ctx.settings.bootstrap} after {seconds:.0f}s"
            )
        self.reporter.waiting(None)
        if self._failed:
            errors, self._failed = self._failed, []
            raise KafkaException(errors[0])

    def _truncate(self, txn: Transaction, change: TableTruncate) -> None:
        self._flush()
        self._drained("a TRUNCATE")
        self.applier.apply([Transaction(txn.position, txn.commit_time, [change])])
        for table in change.tables:
            value = envelope.truncate_message(self.origin, table, txn.position, txn.commit_time)
            for partition in range(self.ctx.settings.partitions):
                self._produce(f"truncate {table}".encode(), value, partition)

    def _drained(self, what: str) -> None:
        """Wait until the sinks have committed everything published so far."""
        probe = LagProbe(self.ctx.settings, self.ctx.job_id)
        try:
            while True:
                try:
                    behind = sum(p.lag for p in probe.measure())
                    reason = f"{what} waits for the sinks to apply {behind} message(s)"
                except KafkaUnavailable as exc:
                    behind, reason = -1, str(exc)
                if behind == 0:
                    self._unapplied = False
                    break
                self.reporter.waiting(reason, "kafka" if behind < 0 else None)
                if self.stop.wait(1.0):
                    raise Interrupted
        finally:
            probe.close()
        self.reporter.waiting(None)
