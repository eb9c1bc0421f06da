"""A busy applier does not lose the stream: the target is slowed through the fault proxy so
that a batch takes longer than the stream timeout while the reader, its queue full, cannot
read. The reader keeps the walsender's timeout from firing with standby status updates; the job
keeps its one replication connection (the slot's walsender pid does not change), never retries,
and converges.
"""

from __future__ import annotations

import functools
import random
import time

import pytest
from test_slow_links import no_retries

from cdc_rig import CATCH_UP_SECONDS
from faults import latency
from relmig.source.pg_capture import PostgresCapture, slot_name
from relmig.transport import embedded
from relmig.transport.inprocess import InProcessTransport

pytestmark = pytest.mark.services


def walsender(rig, job_id: str) -> int:
    """The pid of the walsender streaming the job's slot, once the job has connected."""
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while time.monotonic() < deadline:
        rows = rig.query(
            f"SELECT active_pid FROM pg_replication_slots WHERE slot_name = '{slot_name(job_id)}'"
        )
        if rows and rows[0][0] is not None:
            return rows[0][0]
        time.sleep(0.05)
    raise AssertionError(f"no walsender streams the slot of {job_id}")


def test_a_batch_longer_than_the_stream_timeout_keeps_the_stream(routed_rig, faults, monkeypatch):
    rig = routed_rig
    # The walsender ends a stream it has not heard from in 2 s (relmig sets wal_sender_timeout
    # to its own silence bound); a target request may take 3 s before the client gives up at 6.
    monkeypatch.setenv("RELMIG_STREAM_TIMEOUT", "2")
    monkeypatch.setenv("RELMIG_QUERY_TIMEOUT", "3")
    monkeypatch.setattr(PostgresCapture, "heartbeat_seconds", 0.5)
    # A small queue, so a short workload fills it and the reader blocks behind the applier.
    monkeypatch.setattr(
        embedded, "InProcessTransport", functools.partial(InProcessTransport, max_changes=1)
    )
    job_id = rig.start("continuous")
    rig.streaming(job_id)
    pid = walsender(rig, job_id)
    with faults.proxy("ferretdb").toxic(latency(1200)):
        assert rig.workload(random.Random(2), 3) == 3
        rig.caught_up(job_id)
    assert walsender(rig, job_id) == pid
    no_retries(rig, job_id)
    rig.verify()
