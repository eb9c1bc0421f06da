"""The snapshot stage of a Kafka-mode job with `--parallel N`: its key ranges go to the job's
worker group as work items (relmig.transport.kafka.snapshot_work).

The supervisor's own loop runs it, with its health checks, restarts and recovery window, over
N local snapshot workers (`snapshot-1` … `snapshot-N`); `relmig worker` processes elsewhere
join the group by themselves. The workers use dynamic membership, so when the stage ends their
partitions are free at once for the CDC stage's static members. The stage ends when every
range is done (read from the state store), or on a pause or cancel request.
"""

from __future__ import annotations

from typing import Any

from relmig.runtime.engine import CdcContext
from relmig.runtime.parallel import ParallelSnapshot
from relmig.transport.kafka.lag import PartitionLag
from relmig.transport.kafka.snapshot_work import WorkItem, producer, publish
from relmig.transport.kafka.supervisor import Child, KafkaRun, SupervisorSettings
from relmig.transport.kafka.topics import KafkaUnavailable

DONE = "DONE"
PUBLISH_SECONDS = 30.0


class KafkaSnapshotRun(KafkaRun):
    def __init__(
        self,
        work: ParallelSnapshot,
        ctx: CdcContext,
        settings: SupervisorSettings | None = None,
    ) -> None:
        self.work = work
        super().__init__(ctx, settings)
        self.topic = self.cluster.work_topic
        self.marker = "w"

    def _children(self) -> list[Child]:
        return [Child(f"snapshot-{i}", "worker") for i in range(1, self.work.workers + 1)]

    def _begin(self) -> None:
        return None  # the CDC stage has not begun

    def _ready(self) -> None:
        """Every range that is not done becomes a work item (again, after a resume: a range
        delivered twice is harmless)."""
        items = [
            WorkItem(r["collection"], r["number"], self.work.issues_before)
            for r in self.work.pending()
        ]
        out = producer(self.kafka, f"relmig-work-{self.job_id}")
        publish(out, self.job_id, items, self.kafka.partitions)
        if out.flush(PUBLISH_SECONDS):
            raise KafkaUnavailable(
                f"Kafka at {self.kafka.bootstrap}: the snapshot's work items were not "
                f"acknowledged within {PUBLISH_SECONDS:g}s; publishing them again"
            )

    def _figures(self, parts: list[PartitionLag]) -> dict[str, Any]:
        return {}

    def _requests(self) -> str | None:
        self.work.report()
        request = self.work.stop()
        if request:
            self._stop_children()
            return request
        if not self.work.pending():
            self._stop_children()
            return DONE
        return None
