"""SIGTERM to `relmig serve` pauses the jobs it runs (issue 29 §6): none is left FAILED, each
says why it paused, the next start names them, and `--resume-paused` resumes them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_helpers import TABLES, drop_slots

from relmig.runtime.jobs import JobManager
from relmig.runtime.store import StateStore

pytestmark = pytest.mark.services


class Served:
    def __init__(self, home: Path, *args: str) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.log = home.parent / f"serve-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if k != "RELMIG_SERVER_TOKEN"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "relmig.cli", "serve", "--port", str(self.port), *args],
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}/api/v1", timeout=30)
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.http.get("/about").status_code == 401:  # up, and it needs its token
                    token = (home / "server.token").read_text().strip()
                    self.http.headers["Authorization"] = f"Bearer {token}"
                    break
            except httpx.TransportError:
                pass
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, self.output()
            time.sleep(0.1)

    def output(self) -> str:
        return self.log.read_text()

    def job(self, job_id: str, done: Any, timeout: float = 90) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while not done(job := self.http.get(f"/jobs/{job_id}").json()):
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
        return job

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.http.close()
        self.process.send_signal(signum)
        return self.process.wait(60)


@pytest.fixture
def served(home: Path) -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for s in started:
        if s.process.poll() is None:
            s.process.kill()
            s.process.wait()


def test_sigterm_pauses_the_servers_jobs_and_the_next_start_resumes_them(
    home: Path, served: list[Served], server_sample, mongo_uri: str, target_db: str
) -> None:
    first = Served(home, "--target", mongo_uri)
    served.append(first)
    conn = first.http.post("/connections", json=server_sample["connection"]).json()
    body = {"name": "shutdown", "connection_id": conn["id"], "tables": TABLES}
    project = first.http.post("/projects", json=body).json()
    job_id = first.http.post(
        f"/projects/{project['id']}/jobs", json={"mode": "continuous", "target_db": target_db}
    ).json()["id"]
    first.job(job_id, lambda j: j["cdc_status"] == "RUNNING")

    assert first.stop(signal.SIGTERM) == 0, first.output()
    store = StateStore()
    try:
        job = store.job(job_id)
        assert (job["status"], job["stop_reason"]) == (
            "PAUSED",
            "stopped by SIGTERM (relmig serve shut down)",
        )
        second = Served(home, "--target", mongo_uri)
        served.append(second)
        assert second.job(job_id, lambda j: True)["status"] == "PAUSED"
        assert f"the last shutdown paused {job_id}" in second.output()
        assert second.stop(signal.SIGINT) == 0
        assert store.job(job_id)["status"] == "PAUSED"  # nothing ran it: still as it was

        third = Served(home, "--target", mongo_uri, "--resume-paused")
        served.append(third)
        third.job(job_id, lambda j: j["status"] == "RUNNING" and j["cdc_status"] == "RUNNING")
        assert f"job {job_id}, paused by the last shutdown, resumed" in third.output()
        third.http.post(f"/jobs/{job_id}/cancel")
        third.job(job_id, lambda j: j["status"] == "CANCELLED")
        assert third.stop() == 0
    finally:
        JobManager(store).recover_stale()
        store.close()
        drop_slots(server_sample["dsn"])
