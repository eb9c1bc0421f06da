"""`/metrics`: the jobs' figures in Prometheus' text format, read from the state store per scrape.

The store already holds every figure the job page shows, written by whichever process runs the
job (this server, a CLI, Kafka tasks), so a collector that reads it at scrape time reports jobs
wherever they run and needs no bookkeeping of its own. Jobs that ended more than a day ago are
left out, so the series do not grow without bound.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from relmig.runtime.store import StateStore, aware, current_slot_lag, utcnow

KEEP_ENDED = dt.timedelta(days=1)
STATUSES = ("RUNNING", "PAUSED", "FAILED", "CANCELLING", "CANCELLED", "COMPLETED")
JOB = ["job", "project", "mode"]


class JobCollector(Collector):
    def __init__(self, store: StateStore) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        status = GaugeMetricFamily(
            "relmig_job_status", "1 for the job's current status.", labels=[*JOB, "status"]
        )
        rows = CounterMetricFamily(
            "relmig_job_rows_copied",
            "Root rows the snapshot wrote, per collection.",
            labels=[*JOB, "collection"],
        )
        events = CounterMetricFamily(
            "relmig_job_events_applied", "Change events applied to the target.", labels=JOB
        )
        lag = GaugeMetricFamily(
            "relmig_job_lag_seconds",
            "Commit-to-target lag of the last applied batch.",
            labels=JOB,
        )
        slot = GaugeMetricFamily(
            "relmig_job_slot_lag_bytes",
            "What the source retains for the job (WAL of its slot, binlog bytes behind).",
            labels=JOB,
        )
        issues = CounterMetricFamily(
            "relmig_job_issues", "Problems recorded, repeats included.", labels=[*JOB, "severity"]
        )
        retries = CounterMetricFamily(
            "relmig_job_retries", "Reconnects after a lost source or target.", labels=JOB
        )
        kafka_lag = GaugeMetricFamily(
            "relmig_kafka_consumer_lag",
            "Kafka mode: messages not yet applied, per partition.",
            labels=[*JOB, "partition"],
        )
        restarts = CounterMetricFamily(
            "relmig_kafka_task_restarts",
            "Kafka mode: restarts of each task by the supervisor.",
            labels=[*JOB, "task"],
        )
        for job in self._jobs():
            ids = [job["id"], job["project"], job["mode"]]
            for name in STATUSES:
                status.add_metric([*ids, name], 1.0 if job["status"] == name else 0.0)
            for p in self.store.progress_of(job["id"]):
                rows.add_metric([*ids, p["collection"]], p["rows_done"])
            issue_totals = self.store.issue_totals(job["id"])
            for severity in ("ERROR", "WARNING"):
                issues.add_metric([*ids, severity], issue_totals.get(severity, 0))
            if job["mode"] == "snapshot":
                continue
            events.add_metric(ids, job["events_total"])
            retries.add_metric(ids, self.store.retries_of(job["id"]))
            if job["lag_seconds"] is not None:
                lag.add_metric(ids, job["lag_seconds"])
            if (slot_lag := current_slot_lag(job)) is not None:
                slot.add_metric(ids, slot_lag)
            for part in self.store.partitions_of(job["id"]):
                if part["lag"] is not None:
                    kafka_lag.add_metric([*ids, str(part["partition"])], part["lag"])
            for task in self.store.kafka_tasks_of(job["id"]):
                restarts.add_metric([*ids, task["task"]], task["restarts"])
        yield from (status, rows, events, lag, slot, issues, retries, kafka_lag, restarts)

    def _jobs(self) -> list[dict[str, Any]]:
        since = utcnow() - KEEP_ENDED
        return [
            j
            for j in self.store.list_jobs()
            if j["ended_at"] is None or aware(j["ended_at"]) >= since
        ]


def registry(store: StateStore) -> CollectorRegistry:
    """A registry of relmig's job metrics only (no process or platform collectors)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(JobCollector(store))
    return reg
