"""Kafka mode as a CDC engine: the supervisor runs the job's tasks (docs/kafka.md), and the
worker group copies a parallel snapshot's key ranges."""

from __future__ import annotations

from typing import Any

from relmig.runtime.control import Stopped
from relmig.runtime.engine import CdcContext, CdcEngine
from relmig.runtime.parallel import ParallelSnapshot
from relmig.runtime.store import StateStore
from relmig.transport.kafka.monitor import kafka_status
from relmig.transport.kafka.security import security_problem
from relmig.transport.kafka.snapshot_stage import DONE, KafkaSnapshotRun
from relmig.transport.kafka.supervisor import KafkaRun, drop_topics


class KafkaEngine(CdcEngine):
    resumes_by_itself = True

    def refuse(self, options: dict[str, Any]) -> str | None:
        if options.get("mode") == "snapshot" or not options.get("kafka_bootstrap"):
            return (
                "the kafka engine runs the CDC of continuous and cdc-only jobs and needs the "
                "Kafka bootstrap servers"
            )
        return security_problem(options)

    def run(self, ctx: CdcContext) -> str:
        return KafkaRun(ctx).run()

    def parallel_snapshot(self, work: ParallelSnapshot, ctx: CdcContext) -> None:
        """The ranges are work items of the job's worker group (docs/kafka.md)."""
        ended = KafkaSnapshotRun(work, ctx).run()
        if ended != DONE:
            raise Stopped(ended)

    def status(self, store: StateStore, job_id: str) -> dict[str, Any] | None:
        return kafka_status(store, job_id)

    def release(self, store: StateStore, job_id: str) -> None:
        drop_topics(store, job_id)
