"""A stalled link (bytes stop, the socket stays open) on each link of an embedded job: relmig
notices within its bound, shows the link as a condition of the job while the stall lasts,
retries from its last checkpoint, and converges once the link works again.

The bounds are the fault tests' short ones (conftest.short_bounds); docs/faults.md lists the
mechanism per link.
"""

from __future__ import annotations

import pytest

from fault_job import through_fault
from faults import timeout

pytestmark = pytest.mark.services


@pytest.mark.parametrize(
    ("proxy", "link", "says"),
    [
        ("postgres", "source", "postgresql source"),
        ("postgres_replication", "replication", "replication"),
        ("ferretdb", "target", "MongoDB target"),
    ],
)
def test_a_stalled_postgres_job_link(routed_rig, faults, short_bounds, proxy, link, says):
    rig = routed_rig
    job_id = rig.start("continuous")
    rig.streaming(job_id)
    # The error names the link; how it was noticed varies (a connect timeout, the client
    # deadline, the stream's silence deadline, the target's socket timeout).
    found = through_fault(rig, faults, proxy, timeout(0), {link}, job_id)
    rig.verify()
    assert found["name"] == {"source": "source queries", "replication": "replication stream"}.get(
        link, link
    )
    assert says in found["last_error"]
    assert found["attempts"] >= 1 and found["since"] is not None


def test_a_stalled_mariadb_link(routed_mysql_rig, faults, short_bounds):
    rig = routed_mysql_rig
    job_id = rig.start("continuous")
    rig.streaming(job_id)
    # Queries and the binlog dump share the MariaDB proxy: either may notice first.
    found = through_fault(rig, faults, "mariadb", timeout(0), {"source", "replication"}, job_id)
    rig.verify()
    assert "MariaDB" in found["last_error"] or "mysql" in found["last_error"]
