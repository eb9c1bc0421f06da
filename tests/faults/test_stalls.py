"""A stalled link (bytes stop, the socket stays open) on each link of an embedded job: relmig
notices within its bound, shows the link as a condition of the job while the stall lasts,
retries from its last checkpoint, and converges once the link works again.

The bounds are the fault tests' short ones (conftest.short_bounds); docs/faults.md lists the
mechanism per link. Waits are bounded by the rig's catch-up time; nothing asserts a duration.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest

from cdc_rig import CATCH_UP_SECONDS, Rig
from faults import Toxiproxy, timeout

pytestmark = pytest.mark.services


def condition(rig: Rig, job_id: str, links: set[str]) -> dict[str, Any]:
    """Until the job shows a condition on one of `links` (the job still RUNNING)."""
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while time.monotonic() < deadline:
        job = rig.manager.describe(job_id)
        assert job["status"] == "RUNNING", job["failure"]
        found = [c for c in job["conditions"] if c["link"] in links]
        if found:
            return found[0]
        time.sleep(0.5)
    raise AssertionError(f"no condition on {links}: {rig.manager.describe(job_id)['conditions']}")


def cleared(rig: Rig, job_id: str) -> None:
    rig.wait_for(job_id, lambda _: not rig.manager.describe(job_id)["conditions"])


class Workload(threading.Thread):
    """Changes at the source (direct connections) while a link of the job is stalled."""

    def __init__(self, rig: Rig, seed: int | str, transactions: int) -> None:
        super().__init__(daemon=True)
        self.rig, self.rng, self.transactions = rig, random.Random(seed), transactions

    def run(self) -> None:
        for _ in range(self.transactions):
            self.rig.workload(self.rng, 1)
            time.sleep(0.2)


def stall(
    rig: Rig, faults: Toxiproxy, proxy: str, links: set[str], seed: int | str
) -> dict[str, Any]:
    """Stall `proxy` under a workload until the job shows it; then let it go and converge."""
    job_id = rig.start("continuous")
    rig.streaming(job_id)
    writes = Workload(rig, seed, 20)
    with faults.proxy(proxy).toxic(timeout(0)):
        writes.start()
        found = condition(rig, job_id, links)
        writes.join()
    rig.caught_up(job_id)
    cleared(rig, job_id)
    rig.verify()
    assert rig.store.job(job_id)["status"] == "RUNNING"
    retries = [i for i in rig.store.issues_of(job_id) if "retry in" in i["detail"]]
    assert retries, "no retry was recorded"
    return found


@pytest.mark.parametrize(
    ("proxy", "link", "says"),
    [
        ("postgres", "source", "postgresql source"),
        ("postgres_replication", "replication", "replication"),
        ("ferretdb", "target", "MongoDB target"),
    ],
)
def test_a_stalled_postgres_job_link(routed_rig, faults, short_bounds, proxy, link, says):
    # The error names the link; how it was noticed varies (a connect timeout, the client
    # deadline, the stream's silence deadline, the target's socket timeout).
    found = stall(routed_rig, faults, proxy, {link}, seed=proxy)
    assert found["name"] == {"source": "source queries", "replication": "replication stream"}.get(
        link, link
    )
    assert says in found["last_error"]
    assert found["attempts"] >= 1 and found["since"] is not None


def test_a_stalled_mariadb_link(routed_mysql_rig, faults, short_bounds):
    # Queries and the binlog dump share the MariaDB proxy: either may notice first.
    found = stall(routed_mysql_rig, faults, "mariadb", {"source", "replication"}, seed=7)
    assert "MariaDB" in found["last_error"] or "mysql" in found["last_error"]
