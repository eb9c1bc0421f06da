"""Kafka mode: a row per task (the source task, each sink worker) and consumer lag per
partition.

The tasks write their progress and the supervisor its restarts and health checks into the same
row, each its own columns.
"""

from __future__ import annotations

from typing import Any

from relmig.runtime.records.base import Records
from relmig.runtime.records.tables import kafka_partitions, kafka_tasks, utcnow


class KafkaRecords(Records):
    def report_task(self, job_id: str, task: str, **values: Any) -> None:
        """Create or update a task's row (tasks and the supervisor write different columns)."""
        with self._tx() as conn:
            where = (kafka_tasks.c.job_id == job_id, kafka_tasks.c.task == task)
            if not conn.execute(kafka_tasks.update().where(*where).values(**values)).rowcount:
                defaults = {"events_total": 0, "restarts": 0}
                conn.execute(
                    kafka_tasks.insert().values(job_id=job_id, task=task, **{**defaults, **values})
                )

    def kafka_tasks_of(self, job_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                kafka_tasks.select()
                .where(kafka_tasks.c.job_id == job_id)
                .order_by(kafka_tasks.c.task)
            ).mappings()
            return [dict(r) for r in rows]

    def save_partitions(self, job_id: str, rows: list[dict[str, Any]]) -> None:
        """Replace the job's per-partition consumer lag with a fresh measurement."""
        now = utcnow()
        with self._tx() as conn:
            conn.execute(kafka_partitions.delete().where(kafka_partitions.c.job_id == job_id))
            if rows:
                conn.execute(
                    kafka_partitions.insert(),
                    [{"job_id": job_id, "updated_at": now, **r} for r in rows],
                )

    def partitions_of(self, job_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                kafka_partitions.select()
                .where(kafka_partitions.c.job_id == job_id)
                .order_by(kafka_partitions.c.partition)
            ).mappings()
            return [dict(r) for r in rows]
