"""Connections reset (TCP RST) in the middle of the work: a bulk write of the snapshot to the
target, the replication stream during CDC. The job shows the link while resets last, retries
from its last checkpoint and converges."""

from __future__ import annotations

import pytest

from fault_job import snapshot_started, through_fault
from faults import reset_peer

pytestmark = pytest.mark.services


def test_reset_in_the_middle_of_a_snapshot_write(routed_rig, faults, short_bounds):
    rig = routed_rig
    job_id = rig.start("continuous", batch_size=20)
    snapshot_started(rig, job_id)
    found = through_fault(rig, faults, "ferretdb", reset_peer(0), {"target"}, job_id)
    rig.verify()
    assert "MongoDB target" in found["last_error"]


@pytest.mark.parametrize("proxy", ["postgres_replication", "ferretdb"])
def test_reset_in_the_middle_of_cdc(routed_rig, faults, short_bounds, proxy):
    rig = routed_rig
    job_id = rig.start("continuous")
    rig.streaming(job_id)
    link = "replication" if proxy == "postgres_replication" else "target"
    through_fault(rig, faults, proxy, reset_peer(0), {link}, job_id)
    rig.verify()


def test_reset_of_the_mariadb_link_during_cdc(routed_mysql_rig, faults, short_bounds):
    rig = routed_mysql_rig
    job_id = rig.start("continuous")
    rig.streaming(job_id)
    through_fault(rig, faults, "mariadb", reset_peer(0), {"source", "replication"}, job_id)
    rig.verify()
