"""A link down for longer than the retry budget: the job fails with a message naming the link
and stays resumable; a Resume once the link is back continues from the checkpoint and
converges. The budget is shortened to two quick attempts (relmig.runtime.retry)."""

from __future__ import annotations

import pytest

from fault_job import Workload
from relmig.runtime import retry

pytestmark = pytest.mark.services


@pytest.mark.parametrize(
    ("proxy", "name"),
    [("ferretdb", "target"), ("postgres_replication", "replication stream")],
)
def test_a_link_down_past_the_budget_fails_resumable(
    routed_rig, faults, short_bounds, monkeypatch, proxy, name
):
    monkeypatch.setattr(retry, "RETRY_DELAYS", (0.5, 1.0))
    rig = routed_rig
    job_id = rig.start("continuous")
    rig.streaming(job_id)
    with faults.proxy(proxy).down():
        writes = Workload(rig, proxy, 10)
        writes.start()
        # Failing takes about two minutes on a down target link even with this 1.5 s budget
        # (docs/testing.md), so a 120 s wait was a coin toss; the wait bounds, never asserts.
        rig.manager.wait(job_id, 240)
        writes.join()
        job = rig.manager.describe(job_id)
        assert job["status"] == "FAILED"
        assert f"the {name} link failed and did not come back" in job["failure"]
        assert "can be resumed" in job["failure"]
        assert job["resumable"] and not job["conditions"]
    rig.manager.resume(job_id)
    rig.streaming(job_id)
    rig.caught_up(job_id)
    rig.verify()
    assert rig.store.job(job_id)["status"] == "RUNNING"
