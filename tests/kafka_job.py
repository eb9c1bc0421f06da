"""A Kafka-mode job under test: start it, find its tasks, wait until the sinks caught up.

Shared by the Kafka-mode tests (tests/kafka) and the crash tests (tests/crash).
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from cdc_rig import Rig
from kafka_cluster import wait_for
from relmig.runtime.engine import engine
from relmig.transport.kafka.lag import LagProbe
from relmig.transport.kafka.topics import KafkaSettings

PARTITIONS = 4


@dataclass
class KafkaJob:
    rig: Rig
    id: str
    bootstrap: str

    @classmethod
    def start(cls, rig: Rig, bootstrap: str, workers: int = 2, **options: Any) -> KafkaJob:
        job_id = rig.start(
            "continuous",
            engine="kafka",
            kafka_bootstrap=bootstrap,
            kafka_partitions=PARTITIONS,
            kafka_workers=workers,
            **options,
        )
        rig.streaming(job_id)
        job = cls(rig, job_id, bootstrap)
        for name in ("source", *(f"worker-{i}" for i in range(1, workers + 1))):
            job.running(name)
        return job

    def task(self, name: str) -> dict[str, Any]:
        rows = self.rig.store.kafka_tasks_of(self.id)
        return next((r for r in rows if r["task"] == name), {})

    def status(self) -> dict[str, Any]:
        return engine("kafka").status(self.rig.store, self.id)

    def running(self, name: str) -> dict[str, Any]:
        """Until the task runs and reports (after a restart: a new process)."""
        return wait_for(
            lambda: (t := self.task(name)).get("state") == "RUNNING" and t.get("pid") and t,
            f"task {name} to run",
        )

    def applied(self) -> None:
        """Until the sinks have applied everything committed at the source before this call:
        the source task has published up to a fresh mark, and no partition has lag left."""
        self.rig.caught_up(self.id)
        probe = LagProbe(KafkaSettings.of(self.rig.store.job(self.id)["options"]), self.id)
        try:
            wait_for(lambda: all(p.lag == 0 for p in probe.measure()), "the sinks to catch up")
        finally:
            probe.close()


class Writer(threading.Thread):
    """A steady write load on the source while a test breaks things."""

    def __init__(self, rig: Rig, seed: int, transactions: int, pause: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.rig = rig
        self.rng = random.Random(seed)
        self.transactions = transactions
        self.pause = pause
        self.committed = 0

    def run(self) -> None:
        for _ in range(self.transactions):
            self.committed += self.rig.workload(self.rng, 1)
            time.sleep(self.pause)
