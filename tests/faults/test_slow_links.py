"""Slow links are no faults: 200 ms of latency with jitter on each link, through the snapshot
and CDC, and the target link throttled to 64 KB/s while the snapshot writes its pages. The job
neither fails nor retries, and the target equals the source."""

from __future__ import annotations

import random

import pytest

from cdc_rig import Rig
from faults import Toxiproxy, bandwidth, latency
from relmig.runtime.records.issues import RETRIED

pytestmark = pytest.mark.services


def snapshot_and_cdc(rig: Rig, faults: Toxiproxy, proxy: str, **options) -> None:
    """The job's whole life (snapshot, then changes) under 200 ms ± 50 ms on `proxy`."""
    with faults.proxy(proxy).toxic(latency(200, jitter=50)):
        job_id = rig.start("continuous", **options)
        rig.streaming(job_id)
        rig.workload(random.Random(proxy), 10)
        rig.caught_up(job_id)
    no_retries(rig, job_id)
    rig.verify()


def no_retries(rig: Rig, job_id: str) -> None:
    assert rig.store.job(job_id)["status"] == "RUNNING"
    retries = [i["detail"] for i in rig.store.issues_of(job_id) if i["detail"].endswith(RETRIED)]
    assert not retries, retries


@pytest.mark.parametrize("proxy", ["postgres", "postgres_replication", "ferretdb"])
def test_latency_on_a_postgres_job_link(routed_rig, faults, proxy):
    snapshot_and_cdc(routed_rig, faults, proxy)


def test_latency_on_the_mariadb_link(routed_mysql_rig, faults):
    snapshot_and_cdc(routed_mysql_rig, faults, "mariadb")


def test_a_throttled_target_during_the_snapshot(routed_rig, faults):
    rig = routed_rig
    # Writes travel upstream (relmig → target): every page of 1000 customers with their
    # orders, lines and products goes through at 64 KB/s.
    with faults.proxy("ferretdb").toxic(bandwidth(64, stream="upstream")):
        job_id = rig.start("continuous", batch_size=1000)
        rig.streaming(job_id)
    rig.workload(random.Random(64), 5)
    rig.caught_up(job_id)
    no_retries(rig, job_id)
    rig.verify()
