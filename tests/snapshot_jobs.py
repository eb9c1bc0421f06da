"""Run a snapshot job the way the CLI and the server do, for tests and benchmarks."""

from __future__ import annotations

from typing import Any

from relmig.mongo.writer import MongoTarget
from relmig.project.model import Project
from relmig.runtime.jobs import JobManager, JobOptions
from relmig.runtime.store import StateStore


def run_snapshot(project: Project, target: MongoTarget, store: StateStore, **opts: Any) -> str:
    """A snapshot job through the job manager (its status is in the store); its id."""
    manager = JobManager(store)
    job_id = manager.create(
        project, target.uri, target.db.name, JobOptions(mode="snapshot", **opts)
    )
    manager.run(job_id, target.uri)
    return job_id
