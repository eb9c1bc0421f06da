"""A transaction larger than the in-memory bound is spooled to disk and still converges: with a
rolled-back savepoint inside it (a subtransaction abort that pgoutput streams), on both sources.
RSS under a 2-million-row transaction is bench/big_transaction.py's (tests/faults runs its short
mode)."""

from __future__ import annotations

import tempfile
from typing import Any

import pytest

from big_transactions import BASE, ORDERS, big_transaction
from relmig.source import spool

pytestmark = pytest.mark.services


def test_a_transaction_spooled_to_disk_converges(rig, monkeypatch) -> None:
    monkeypatch.setenv(spool.SPILL_ENV, "200")
    spilled: list[int] = []
    real = tempfile.TemporaryFile

    def counted(*args: Any, **kwargs: Any) -> Any:
        spilled.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(spool.tempfile, "TemporaryFile", counted)
    job_id = rig.start("continuous")
    rig.streaming(job_id)
    assert rig.execute(big_transaction(rig))
    rig.caught_up(job_id)
    rig.verify()
    assert spilled, "the transaction never went past the in-memory bound"
    kept = rig.query(f"SELECT count(*) FROM orders WHERE order_id >= {BASE}")[0][0]
    assert kept == ORDERS - 10
    assert rig.store.job(job_id)["events_total"] >= (ORDERS - 10) * 21
