"""The CDC engines behind one interface, picked by name (`JobOptions.engine`).

The runtime names an engine and never imports one: `embedded` applies changes in the job's
process (`relmig.transport.embedded`), `kafka` sends them through a Kafka cluster to sink
workers (`relmig.transport.kafka`). Both read the same capture and rebuild documents with the
same applier, so they differ only in how changes travel from the reader to the writer.
"""

from __future__ import annotations

import datetime as dt
import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from relmig.mongo.writer import MongoTarget
from relmig.project.model import Project
from relmig.runtime.gate import IssueGate
from relmig.runtime.store import StateStore
from relmig.source.capture import ChangeCapture
from relmig.source.sql import SqlSource

if TYPE_CHECKING:
    from relmig.runtime.parallel import ParallelSnapshot

# name → "module:class"; imported on first use, so a command that never runs a Kafka job does
# not pay for Kafka's client at start-up.
ENGINES = {
    "embedded": "relmig.transport.embedded:EmbeddedEngine",
    "kafka": "relmig.transport.kafka.engine:KafkaEngine",
}


@dataclass(slots=True)
class CdcContext:
    """What the CDC stage of one job runs with; the runtime opens and closes all of it."""

    job_id: str
    project: Project
    source: SqlSource
    target: MongoTarget
    store: StateStore
    capture: ChangeCapture | None  # None in a snapshot job, which has no CDC stage
    gate: IssueGate
    target_uri: str
    password: str | None
    clock: Callable[[], dt.datetime]

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.store.job(self.job_id)["options"])


class CdcEngine(ABC):
    # Whether the engine resumes a job by itself after its process died (Kafka mode's health
    # checks); embedded jobs wait for the user's Resume.
    resumes_by_itself: bool = False

    def refuse(self, options: dict[str, Any]) -> str | None:
        """Why a job with these options cannot use this engine, or None."""
        return None

    @abstractmethod
    def run(self, ctx: CdcContext) -> str:
        """Stream until a request ends it; returns the request: PAUSE, CANCEL or COMPLETE."""

    def parallel_snapshot(self, work: ParallelSnapshot, ctx: CdcContext) -> None:
        """Copy the planned ranges of a parallel snapshot; raises Stopped on a pause or
        cancel request. Local worker processes by default."""
        work.in_processes()

    def status(self, store: StateStore, job_id: str) -> dict[str, Any] | None:
        """What the engine adds to a job's description (Kafka: tasks, partitions, lag)."""
        return None

    def release(self, store: StateStore, job_id: str) -> None:
        """Free what the engine keeps for a job that ended (Kafka: its topic)."""
        return None


def engine(name: str) -> CdcEngine:
    if name not in ENGINES:
        raise ValueError(f"unknown CDC engine {name!r}; known: {', '.join(ENGINES)}")
    module, _, attr = ENGINES[name].partition(":")
    return getattr(importlib.import_module(module), attr)()  # type: ignore[no-any-return]
