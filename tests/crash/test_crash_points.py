"""Crash at every step of a job's life: SIGKILL at each named crash point, resume, change more
rows, verify.

A job runs as `relmig sync` in a child process with one crash point armed (relmig.failpoints).
The test makes the job reach the point (it starts, a change arrives, a TRUNCATE, a pause,
cancel or complete request, a killed Kafka worker), waits until the process killed itself
there, resumes the job the way a user would, applies more changes and checks that the target
equals a fresh snapshot of the source. With --drop, the target starts with stale documents that
the first run must remove and no resume may remove again.

The parallel snapshot's points run with `--parallel 2` and small key ranges; a point in a
worker process kills only that worker, which the job's process replaces. Every point runs in
embedded mode on PostgreSQL and MariaDB, with and without --drop; the
points whose code differs in Kafka mode (its own three, and the sink writes, the TRUNCATE
barrier and the cutover that run in Kafka's tasks and supervisor) run in Kafka mode too. The
last test fails for a point no case reached, so a new step without a crash test shows up.
"""

from __future__ import annotations

import dataclasses
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from cdc_rig import Rig
from kafka_cluster import require_three_brokers
from kafka_job import PARTITIONS, KafkaJob
from relmig.failpoints import ARM, LOG, POINTS, fired
from relmig.mongo.writer import MongoTarget
from relmig.project.file import save_project
from relmig.project.model import CollectionRule, FieldRule, Project
from relmig.runtime.store import STOPPED_UNEXPECTEDLY

pytestmark = pytest.mark.services

WAIT = 120.0

# What makes the job reach each point.
TRIGGER = {
    "capture-started": "start",
    "position-recorded": "start",
    "target-prepared": "start",
    "snapshot-page-written": "start",
    "snapshot-ranges-planned": "start",
    "snapshot-range-written": "start",
    "snapshot-done": "start",
    "cdc-stage-recorded": "start",
    "cdc-batch-written": "change",
    "cdc-checkpointed": "change",
    "replace-deleted": "change",
    "truncate-cleared": "truncate",
    "pause-stopped": "pause",
    "cancel-before-release": "cancel",
    "cancel-released": "cancel",
    "complete-drained": "complete",
    "complete-released": "complete",
    "update-recorded": "update",
    "update-dropped": "update",
    "recopy-chunk-written": "update",
    "recopy-copied": "update",
    "recopy-old-dropped": "update",
    "recopy-renamed": "update",
    "kafka-published": "change",
    "kafka-sink-written": "change",
    "kafka-task-restarted": "kill-worker",
}
KAFKA_ONLY = {"kafka-published", "kafka-sink-written", "kafka-task-restarted"}
# The parallel snapshot's points run with `--parallel 2`: in Kafka mode its ranges are work
# items of the job's worker group, which is code of its own.
PARALLEL = {"snapshot-ranges-planned", "snapshot-range-written"}
# A mapping update's copy runs in the source task in Kafka mode, and is taken by the job's
# process after the supervisor stopped the tasks.
KAFKA_RECOPY = {"recopy-chunk-written", "recopy-copied", "recopy-renamed"}
KAFKA_TOO = {
    "replace-deleted",
    "truncate-cleared",
    "complete-drained",
    "update-recorded",
    *KAFKA_RECOPY,
    *PARALLEL,
}
# In Kafka mode these points are in a task process, which the supervisor restarts by itself.
KAFKA_TASK_POINTS = {
    "kafka-published",
    "kafka-sink-written",
    "replace-deleted",
    "truncate-cleared",
    *KAFKA_RECOPY,
}
# In a worker process of a parallel snapshot in both modes: the job's process replaces it.
WORKER_POINTS = {"snapshot-range-written"}

# A mapping update (`jobs update`) happens long after the first snapshot, where --drop acted.
UPDATE_POINTS = {p for p, trigger in TRIGGER.items() if trigger == "update"}
CASES = [
    pytest.param(point, "embedded", drop, id=f"{point}-embedded-{'drop' if drop else 'keep'}")
    for point in POINTS
    if point not in KAFKA_ONLY
    for drop in ((False,) if point in UPDATE_POINTS else (True, False))
] + [
    pytest.param(point, "kafka", drop, id=f"{point}-kafka-{'drop' if drop else 'keep'}")
    for point in POINTS
    if point in KAFKA_ONLY | KAFKA_TOO
    for drop in ((False,) if point in UPDATE_POINTS else (True, False))
]

REACHED: dict[str, set[str]] = {}  # source → the points reached on it
RAN: dict[str, int] = {}  # source → cases run


# Under xdist a source's cases run in one worker, in order (an xdist group per source): they
# share the module's source database, and the last test checks that every case on that source
# reached its point. (A mark on a fixture's params does not reach xdist; one here does.)
SOURCES = pytest.mark.parametrize(
    "source",
    [
        pytest.param(dialect, marks=pytest.mark.xdist_group(f"crash-{dialect}"), id=dialect)
        for dialect in ("postgresql", "mysql")
    ],
    indirect=True,
    scope="module",
)


@SOURCES
@pytest.mark.parametrize(("point", "engine", "drop"), CASES)
def test_crash_resume_verify(
    source: Rig, point: str, engine: str, drop: bool, tmp_path: Path, kafka_bootstrap: str
) -> None:
    if engine == "kafka":
        require_three_brokers(kafka_bootstrap)
    case = Case(source, point, engine, drop, tmp_path, kafka_bootstrap)
    try:
        case.run()
    finally:
        case.close()
    REACHED.setdefault(source.dialect, set()).add(point)
    RAN[source.dialect] = RAN.get(source.dialect, 0) + 1


@SOURCES
def test_every_point_was_reached(source: Rig) -> None:
    """After a source's cases: each named point was reached on it (when every case ran)."""
    ran = RAN.get(source.dialect, 0)
    if ran < len(CASES):
        pytest.skip(f"{ran} of {len(CASES)} crash cases ran on {source.dialect}")
    reached = REACHED[source.dialect]
    print(f"crash points covered on {source.dialect}:", ", ".join(sorted(reached)))
    missing = [p for p in POINTS if p not in reached]
    assert not missing, f"crash points no case reached on {source.dialect}: {missing}"


def with_regions(project: Project) -> Project:
    schema = project.table(project.collections[0].table).schema_
    rules = [*project.collections, CollectionRule(name="regions", table=f"{schema}.regions")]
    return project.model_copy(update={"collections": rules})


def updated_project(project: Project) -> Project:
    """A field of categories renamed (rebuilt), shippers added, regions dropped."""
    schema = project.table(project.collections[0].table).schema_
    rules = [
        c.model_copy(update={"fields": {"description": FieldRule(name="about")}})
        if c.name == "categories"
        else c
        for c in project.collections
        if c.name != "regions"
    ]
    rules.append(CollectionRule(name="shippers", table=f"{schema}.shippers"))
    return Project.model_validate(
        {**project.model_dump(by_alias=True), "collections": [r.model_dump() for r in rules]}
    )


def _recopied(rig: Rig, job_id: str) -> bool:
    rows = rig.store.recopies_of(job_id)
    return len(rows) == 3 and all(r["state"] == "DONE" for r in rows)


@dataclasses.dataclass
class Case:
    source: Rig
    point: str
    engine: str
    drop: bool
    tmp_path: Path
    bootstrap: str

    def __post_init__(self) -> None:
        self.rig = dataclasses.replace(
            self.source, target_db=f"crash_{uuid.uuid4().hex[:8]}", jobs=[]
        )
        self.rng = random.Random(f"{self.point}-{self.engine}-{self.drop}")
        self.log = self.tmp_path / "crash.log"
        self.child: subprocess.Popen[bytes] | None = None
        self.job_id = ""
        self.new_project: Project | None = None

    # --- the sequence ---------------------------------------------------------------------

    def run(self) -> None:
        if self.point in UPDATE_POINTS:
            self.rig.project = with_regions(self.rig.project)  # for the update to drop
        if self.drop:
            self.seed_stale_documents()
        self.start_job()
        self.reach_point()
        trigger = TRIGGER[self.point]
        if self.point in WORKER_POINTS or (
            self.engine == "kafka" and self.point in KAFKA_TASK_POINTS
        ):
            # A task or worker died; the job's process starts another and goes on by itself.
            assert self.child is not None and self.child.poll() is None, "the job process died"
            self.rig.workload(self.rng, 10)
        else:
            self.job_process_died()
            if trigger not in ("complete", "cancel"):
                self.rig.workload(self.rng, 10)  # changes while nothing runs the job
            if trigger == "cancel":
                self.rig.manager.cancel(self.job_id)  # the user cancels again
            else:
                self.rig.manager.resume(self.job_id)  # the user presses Resume
        if trigger == "cancel":
            self.assert_cancelled()
            return
        if trigger == "complete":
            self.wait(lambda j: j["status"] == "COMPLETED", "the job to complete")
            self.assert_released()
            self.rig.verify()
            return
        self.rig.streaming(self.job_id)
        self.rig.workload(self.rng, 10)
        if trigger == "update":
            self.updated()
        self.rig.caught_up(self.job_id)
        if self.engine == "kafka":
            self.sinks_applied()
        self.rig.verify()
        steps = self.rig.store.steps(self.job_id)
        assert {"capture_started", "target_prepared", "snapshot_done"} <= set(steps)
        if self.point in PARALLEL:  # the snapshot was split, and every range finished
            ranges = self.rig.store.ranges_of(self.job_id)
            assert "snapshot_planned" in steps and all(r["done"] for r in ranges)
            assert len(ranges) > len(self.rig.project.collections)

    # --- starting and crashing ------------------------------------------------------------

    def seed_stale_documents(self) -> None:
        """Documents --drop must remove (once): verify fails if any is left."""
        target = MongoTarget(self.rig.target_uri, self.rig.target_db)
        try:
            for collection in self.rig.project.collections:
                target.db[collection.name].insert_one({"_id": "stale", "left": "over"})
        finally:
            target.close()

    def start_job(self) -> None:
        project_file = self.tmp_path / "project.yaml"
        save_project(self.rig.project, project_file)
        cmd = [sys.executable, "-m", "relmig.cli", "sync", str(project_file)]
        cmd += ["--target", self.rig.target_uri, "--database", self.rig.target_db]
        if self.drop:
            cmd.append("--drop")
        if self.engine == "kafka":
            cmd += ["--engine", "kafka", "--kafka-bootstrap", self.bootstrap]
            cmd += ["--partitions", str(PARTITIONS), "--workers", "1"]
        if self.point in PARALLEL:
            cmd += ["--parallel", "2", "--range-rows", "20"]
        env = {
            **os.environ,
            "RELMIG_STATE_URL": self.rig.store.url,
            ARM: self.point,
            LOG: str(self.log),
        }
        known = {j["id"] for j in self.rig.store.list_jobs()}
        self.child = subprocess.Popen(
            cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + WAIT
        while not (new := [j["id"] for j in self.rig.store.list_jobs() if j["id"] not in known]):
            self.assert_child_alive()
            assert time.monotonic() < deadline, "the job was not created"
            time.sleep(0.05)
        self.job_id = new[0]
        self.rig.jobs.append(self.job_id)

    def reach_point(self) -> None:
        trigger = TRIGGER[self.point]
        if trigger != "start":
            self.wait_for_streaming()
        if trigger == "change":
            self.until_fired(lambda: self.rig.workload(self.rng, 2))
        elif trigger == "truncate":
            self.rig.execute([("TRUNCATE TABLE order_detail_notes", ())])
        elif trigger == "pause":
            self.rig.manager.pause(self.job_id)
        elif trigger == "update":
            self.rig.workload(self.rng, 5)
            self.new_project = updated_project(self.rig.project)
            self.rig.manager.update(self.job_id, self.new_project)
        elif trigger == "cancel":
            self.rig.manager.cancel(self.job_id)
        elif trigger == "complete":
            self.rig.workload(self.rng, 10)  # drained by the cutover
            self.rig.manager.complete(self.job_id)
        elif trigger == "kill-worker":
            worker = next(
                t for t in self.rig.store.kafka_tasks_of(self.job_id) if t["task"] == "worker-1"
            )
            os.kill(worker["pid"], signal.SIGKILL)
        self.until_fired(lambda: None)

    def wait_for_streaming(self) -> None:
        def streaming(job: dict[str, Any]) -> bool:
            if job["stage"] != "CDC" or job["cdc_status"] != "RUNNING":
                return False
            if self.engine != "kafka":
                return True
            tasks = {t["task"]: t for t in self.rig.store.kafka_tasks_of(self.job_id)}
            return all(tasks.get(n, {}).get("state") == "RUNNING" for n in ("source", "worker-1"))

        self.wait(streaming, "the job to stream")

    def until_fired(self, nudge: Any) -> None:
        deadline = time.monotonic() + WAIT
        while self.point not in fired(str(self.log)):
            self.assert_child_alive()
            assert time.monotonic() < deadline, f"crash point {self.point} was not reached"
            nudge()
            time.sleep(0.1)

    def job_process_died(self) -> None:
        assert self.child is not None
        code = self.child.wait(WAIT)
        assert code == -signal.SIGKILL, self.stderr()
        self.rig.manager.recover_stale()
        job = self.rig.store.job(self.job_id)
        assert job["status"] == "FAILED", job
        assert job["failure"].startswith(STOPPED_UNEXPECTEDLY) and job["failure_kind"] == "stopped"

    # --- checks -----------------------------------------------------------------------------

    def updated(self) -> None:
        """The update's work is done: categories rebuilt, shippers added, regions dropped."""
        self.wait(lambda _j: _recopied(self.rig, self.job_id), "the update's copies")
        self.rig.project = self.new_project
        target = MongoTarget(self.rig.target_uri, self.rig.target_db)
        try:
            names = target.collections()
        finally:
            target.close()
        assert "regions" not in names and "shippers" in names, names
        assert not [n for n in names if n.startswith("relmig_recopy_")], names

    def sinks_applied(self) -> None:
        KafkaJob(self.rig, self.job_id, self.bootstrap).applied()

    def assert_cancelled(self) -> None:
        self.wait(lambda j: j["status"] == "CANCELLED", "the job to be cancelled")
        self.assert_released()
        target = MongoTarget(self.rig.target_uri, self.rig.target_db)
        try:  # partial data stays
            assert target.db["customers"].count_documents({}) > 0
        finally:
            target.close()

    def assert_released(self) -> None:
        job = self.rig.store.job(self.job_id)
        assert job["slot_dropped"], job
        if self.rig.dialect == "postgresql":
            from relmig.source.pg_capture import slot_name

            name = slot_name(self.job_id)
            rows = self.rig.query(
                f"SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{name}'),"
                f" (SELECT count(*) FROM pg_publication WHERE pubname = '{name}')"
            )
            assert rows[0] == (0, 0), rows

    def wait(self, predicate: Any, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT
        while True:
            job = self.rig.store.job(self.job_id)
            if predicate(job):
                return job
            assert job["status"] != "FAILED" or job["failure_kind"] == "stopped", job["failure"]
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {job}"
            time.sleep(0.1)

    def assert_child_alive(self) -> None:
        assert self.child is not None
        code = self.child.poll()
        if code is not None and self.point not in fired(str(self.log)):
            raise AssertionError(f"the job process exited ({code}): {self.stderr()}")

    def stderr(self) -> str:
        assert self.child is not None and self.child.stderr is not None
        return self.child.stderr.read().decode(errors="replace")[-3000:]

    def close(self) -> None:
        if self.child is not None and self.child.poll() is None:
            self.child.kill()
            self.child.wait(30)
        if self.job_id:
            self.rig.manager.recover_stale()
            job = self.rig.store.job(self.job_id)
            if job["status"] not in ("COMPLETED", "CANCELLED"):
                self.rig.manager.cancel(self.job_id)
                self.rig.manager.wait(self.job_id, 60)
                self.wait(lambda j: j["status"] == "CANCELLED", "the cleanup cancel")
        target = MongoTarget(self.rig.target_uri, self.rig.target_db)
        target.client.drop_database(self.rig.target_db)
        target.close()
