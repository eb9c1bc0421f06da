"""What the server tests share besides fixtures: the sample's names, waiting for jobs, cleanup."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from sharing import per_worker

SAMPLE_DB = per_worker("relmig_t_server")
SECRET_ROLE = per_worker("relmig_t_secret")
# A password that appears nowhere else, so finding it anywhere is a leak.
SECRET = "pw-" + uuid.uuid4().hex
# The tables of the browser and job tests: type_zoo's edge values are the type tests' business.
TABLES = [
    "public.categories",
    "public.customers",
    "public.employees",
    "public.order_details",
    "public.orders",
    "public.products",
    "public.shippers",
    "public.suppliers",
]


def stop_jobs(manager: Any, password: str) -> None:
    """Cancel what has not ended, so no job thread outlives its test and no slot stays."""
    for job in manager.list():
        if job["status"] not in ("COMPLETED", "CANCELLED"):
            manager.cancel(job["id"], password=password)
        manager.wait(job["id"], timeout=60)


def drop_slots(dsn: str, timeout: float = 15) -> None:
    """Whatever a test left behind in the sample database: slots retain WAL.

    A slot stays active for a moment after its reader died, so wait for it to be released.
    """
    deadline = time.monotonic() + timeout
    with psycopg.connect(dsn, autocommit=True) as conn:
        while True:
            slots = conn.execute(
                "SELECT slot_name, active FROM pg_replication_slots "
                "WHERE database = current_database()"
            ).fetchall()
            for slot, active in slots:
                if not active:
                    conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
            if all(not active for _, active in slots) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        for (pub,) in conn.execute(
            "SELECT pubname FROM pg_publication WHERE pubname LIKE 'relmig_job_%'"
        ).fetchall():
            conn.execute(f'DROP PUBLICATION "{pub}"')


def wait_for(
    client: TestClient, job_id: str, done: Callable[[dict[str, Any]], bool], timeout: float = 90
) -> dict[str, Any]:
    """Poll the job as the UI does until `done` holds."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if done(job):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} did not get there in {timeout}s: {job}")
        time.sleep(0.2)


def artifacts_dir() -> Path:
    """Where screenshots go: $RELMIG_TEST_ARTIFACTS or tests/artifacts (git-ignored)."""
    path = Path(
        os.environ.get("RELMIG_TEST_ARTIFACTS") or Path(__file__).parent.parent / "artifacts"
    )
    path.mkdir(parents=True, exist_ok=True)
    return path
