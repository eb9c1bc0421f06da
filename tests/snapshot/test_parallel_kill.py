"""kill -9 during a parallel snapshot, then resume: every range continues from its own
checkpoint, the target equals the source, and every document is counted once.

`relmig snapshot --parallel 2` runs in a child process; once both worker processes have
checkpointed pages and ranges are still open, the job's process is SIGKILLed (not its
workers: they must notice and stop by themselves, or they would go on writing ranges that the
resumed job hands to new workers).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from relmig.project.file import save_project
from relmig.runtime.store import StateStore
from relmig.source.connect import open_source
from relmig.verify.compare import verify

pytestmark = pytest.mark.services

WAIT = 300.0
COUNTS = {"accounts": 2400, "ledger": 1509, "lonely": 1}
RANGE_ROWS, BATCH = 600, 20


def relmig(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "relmig.cli", *args],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie waits for init to reap it
        return f.read().split(")")[-1].split()[0] != "Z"


def until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_kill_9_then_resume(split_source, targets, tmp_path: Path) -> None:
    target = targets()
    project = split_source.project()
    project_file = tmp_path / "project.yaml"
    save_project(project, project_file)
    state = f"sqlite:///{tmp_path / 'state.db'}"
    env = {"RELMIG_STATE_URL": state}
    where = ["--target", target.uri, "--database", target.db.name]
    args = [
        "snapshot",
        str(project_file),
        *where,
        "--parallel",
        "2",
        "--range-rows",
        str(RANGE_ROWS),
    ]
    child = relmig(*args, "--batch-size", str(BATCH), env=env)
    store = StateStore(state)
    try:

        def halfway() -> bool:
            assert child.poll() is None, child.stderr.read().decode()[-2000:]
            ranges = store.ranges_of(store.list_jobs()[0]["id"]) if store.list_jobs() else []
            workers = {r["worker"] for r in ranges if r["worker"]}
            # A range just begun: a worker writes on until it sees its parent gone (0.1 s),
            # so it must not be near the end of the range.
            begun = any(r["last_key"] and r["rows_done"] <= RANGE_ROWS // 4 for r in ranges)
            return len(workers) == 2 and begun

        until(halfway, "both workers to checkpoint pages, one at the start of a range")
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
        (job,) = store.list_jobs()
        ranges = store.ranges_of(job["id"])
        pids = {int(r["worker"].rsplit(":", 1)[1]) for r in ranges if r["worker"]}
        until(lambda: not any(alive(p) for p in pids), "the workers to die with the job")
        stopped_at = {(r["collection"], r["number"]): r for r in store.ranges_of(job["id"])}
        assert any(r["last_key"] and not r["done"] for r in stopped_at.values())

        resumed = relmig(*args, "--resume", job["id"], env=env)
        assert resumed.wait(WAIT) == 0, resumed.stderr.read().decode()[-3000:]
    finally:
        if child.poll() is None:
            child.kill()
        store.close()

    store = StateStore(state)
    try:
        job = store.job(job["id"])
        assert job["status"] == "COMPLETED", job["failure"]
        with open_source(project.source) as source:
            assert verify(project, source, target).ok
        progress = {p["collection"]: p["rows_done"] for p in store.progress_of(job["id"])}
        assert progress == {**COUNTS, "nothing": 0}
        assert store.floors(job["id"]) == COUNTS  # each document counted once
        ranges = store.ranges_of(job["id"])
        assert all(r["done"] for r in ranges)
        # The ranges that were open at the kill went on from their checkpoint: no range
        # counted a row twice, and the row counts per range are still even.
        for collection in ("accounts", "ledger"):
            sizes = [r["rows_done"] for r in ranges if r["collection"] == collection]
            assert sum(sizes) == COUNTS[collection] and max(sizes) - min(sizes) <= 1
        for r in ranges:
            was = stopped_at[(r["collection"], r["number"])]
            if was["last_key"] and not was["done"]:
                assert int(r["worker"].rsplit(":", 1)[1]) not in pids  # a new worker finished it
    finally:
        store.close()
