"""What the CLI, the API and the UI show of a Kafka-mode job, read from the state store.

The supervisor writes consumer lag per partition and each task's health check; the tasks write
their own heartbeat and figures. Reading the store (not Kafka) keeps this cheap and lets it
answer while Kafka is down.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from relmig.runtime.store import StateStore, aware
from relmig.transport.kafka.task import SOURCE, is_sink
from relmig.transport.kafka.topics import group_id, topic_name, work_topic_name

LIVE = ("STARTING", "RUNNING", "WAITING")


def kafka_status(store: StateStore, job_id: str) -> dict[str, Any]:
    tasks = [_times(t) for t in store.kafka_tasks_of(job_id)]
    partitions = [_times(p) for p in store.partitions_of(job_id)]
    live = [t for t in tasks if t["state"] in LIVE]
    applied = [t["last_event_at"] for t in tasks if is_sink(t["task"]) and t["last_event_at"]]
    job = store.job(job_id) or {}
    copying = job.get("stage") == "SNAPSHOT" and (job.get("options") or {}).get("parallel")
    return {
        # The partitions measured: the work topic while a parallel snapshot copies ranges.
        "topic": work_topic_name(job_id) if copying else topic_name(job_id),
        "group": group_id(job_id),
        "lag_total": sum(p["lag"] or 0 for p in partitions),
        "partitions": [
            {k: p[k] for k in ("partition", "end_offset", "committed", "lag", "updated_at")}
            for p in partitions
        ],
        "events_per_second": {
            "published": sum(t["events_per_second"] or 0.0 for t in live if t["task"] == SOURCE),
            "applied": sum(t["events_per_second"] or 0.0 for t in live if is_sink(t["task"])),
        },
        "last_applied_event_at": max(applied, default=None),
        "tasks": [{k: v for k, v in t.items() if k != "job_id"} for t in tasks],
    }


def _times(row: dict[str, Any]) -> dict[str, Any]:
    """SQLite hands datetimes back without a zone; all of ours are UTC."""
    return {k: aware(v) if isinstance(v, dt.datetime) else v for k, v in row.items()}
