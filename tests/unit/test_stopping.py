"""A second signal, or a pause that does not come within the stop timeout, ends the process at
once and records why (relmig.runtime.stopping), with a real state store and a real process:
the job here is RUNNING and nothing runs it, so it never pauses by itself."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from relmig.runtime.store import StateStore

PROGRAM = """
import sys, time
from relmig.runtime.stopping import pause_on_signals
from relmig.runtime.store import StateStore
store = StateStore(sys.argv[1])
with pause_on_signals(store, lambda: [sys.argv[2]], float(sys.argv[3])):
    print("ready", flush=True)
    time.sleep(60)
"""


def running_job(tmp_path: Path) -> tuple[StateStore, str]:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    job_id = store.create_job("p", "continuous", "mongodb://x", "db", {}, None)
    store.update_job(job_id, status="RUNNING")
    return store, job_id


def holder(store: StateStore, job_id: str, timeout: float) -> subprocess.Popen[bytes]:
    child = subprocess.Popen(
        [sys.executable, "-c", PROGRAM, store.url, job_id, str(timeout)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stdout.readline() == b"ready\n"
    return child


def until(predicate, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_the_first_signal_asks_for_a_pause_and_a_second_stops_at_once(tmp_path: Path) -> None:
    store, job_id = running_job(tmp_path)
    child = holder(store, job_id, 60)
    child.send_signal(signal.SIGTERM)
    until(lambda: store.job(job_id)["request"] == "PAUSE")
    assert store.job(job_id)["stop_reason"] == "stopped by SIGTERM"
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=10)
    assert child.returncode == 128 + signal.SIGINT
    job = store.job(job_id)
    assert (job["status"], job["failure_kind"]) == ("FAILED", "stopped")
    assert job["failure"] == "stopped by a second SIGINT before it paused"
    assert b"resume with: relmig jobs resume" in err


def test_a_pause_past_the_stop_timeout_stops_the_process(tmp_path: Path) -> None:
    store, job_id = running_job(tmp_path)
    child = holder(store, job_id, 1)
    started = time.monotonic()
    child.send_signal(signal.SIGTERM)
    child.communicate(timeout=10)
    assert child.returncode == 1 and time.monotonic() - started < 5
    job = store.job(job_id)
    assert job["status"] == "FAILED"
    assert job["failure"] == "stopped by SIGTERM: it did not pause within 1 s"
