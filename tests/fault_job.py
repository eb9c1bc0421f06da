"""Watching a job through a network fault (tests/faults): the condition it shows while the
fault lasts, a workload at the source meanwhile, and the way back to a converged target.

Waits are bounded by the rig's catch-up time; nothing asserts a duration.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from cdc_rig import CATCH_UP_SECONDS, Rig
from faults import Toxic, Toxiproxy
from relmig.runtime.records.issues import RETRIED


def condition(rig: Rig, job_id: str, links: set[str]) -> dict[str, Any]:
    """Until the job shows a condition on one of `links` (the job still RUNNING)."""
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while time.monotonic() < deadline:
        job = rig.manager.describe(job_id)
        assert job["status"] == "RUNNING", job["failure"]
        found = [c for c in job["conditions"] if c["link"] in links]
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"no condition on {links}: {rig.manager.describe(job_id)['conditions']}")


def cleared(rig: Rig, job_id: str) -> None:
    rig.wait_for(job_id, lambda _: not rig.manager.describe(job_id)["conditions"])


def snapshot_started(rig: Rig, job_id: str) -> None:
    """Until the snapshot stage has written a first page (and has more to write)."""
    rig.wait_for(
        job_id,
        lambda j: j["stage"] == "CDC" or any(p["rows_done"] for p in rig.store.progress_of(job_id)),
    )
    assert rig.store.job(job_id)["stage"] == "SNAPSHOT", "the snapshot ended before the fault"


class Workload(threading.Thread):
    """Changes at the source (direct connections) while a link of the job fails."""

    def __init__(self, rig: Rig, seed: int | str, transactions: int) -> None:
        super().__init__(daemon=True)
        self.rig, self.rng, self.transactions = rig, random.Random(seed), transactions

    def run(self) -> None:
        for _ in range(self.transactions):
            self.rig.workload(self.rng, 1)
            time.sleep(0.2)


def through_fault(
    rig: Rig, faults: Toxiproxy, proxy: str, toxic: Toxic, links: set[str], job_id: str
) -> dict[str, Any]:
    """`toxic` on `proxy` under a workload until the job shows it; then let the link go and
    wait until the job caught up, shows nothing and recorded a retry. Returns the condition."""
    writes = Workload(rig, proxy, 20)
    with faults.proxy(proxy).toxic(toxic):
        writes.start()
        found = condition(rig, job_id, links)
        writes.join()
    rig.streaming(job_id)
    rig.caught_up(job_id)
    cleared(rig, job_id)
    assert rig.store.job(job_id)["status"] == "RUNNING"
    retries = [i for i in rig.store.issues_of(job_id) if i["detail"].endswith(RETRIED)]
    assert retries, "no retry was recorded"
    return found
