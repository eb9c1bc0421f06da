"""CDC under stress: idle sources, huge transactions, and servers restarting mid-stream."""

from __future__ import annotations

import random
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from relmig.runtime.records.issues import RETRIED
from relmig.source.pg_capture import PostgresCapture, slot_name, str_to_lsn

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.services


def _confirmed(rig, job_id: str) -> int:
    (lsn,) = rig.query(
        "SELECT confirmed_flush_lsn::text FROM pg_replication_slots "
        f"WHERE slot_name = '{slot_name(job_id)}'"
    )[0]
    return str_to_lsn(lsn)


def test_idle_tables_do_not_hold_wal(pg_rig, monkeypatch) -> None:
    """Other tables write WAL while the published ones are idle: heartbeats move the slot."""
    monkeypatch.setattr(PostgresCapture, "heartbeat_seconds", 0.5)
    rig = pg_rig
    job_id = rig.start("continuous", slot_lag_warning_bytes=1)
    rig.streaming(job_id)
    rig.execute([("CREATE TABLE unpublished (id serial PRIMARY KEY, v text)", ())])
    rig.execute(
        [("INSERT INTO unpublished (v) SELECT md5(g::text) FROM generate_series(1, 20000) g", ())]
    )
    (now,) = rig.query("SELECT pg_current_wal_lsn()::text")[0]
    deadline = time.monotonic() + 60
    while _confirmed(rig, job_id) < str_to_lsn(now):
        assert time.monotonic() < deadline, "the slot did not move past idle WAL"
        time.sleep(0.2)
    assert rig.manager.describe(job_id)["stats"]["slot_lag_bytes"] is not None
    warnings = [i["detail"] for i in rig.store.issues_of(job_id)]
    assert any("warning threshold 1)" in w for w in warnings), warnings


def test_large_streamed_transaction_and_rollback(pg_rig) -> None:
    """Far above logical_decoding_work_mem: arrives in protocol v2 stream chunks."""
    rig = pg_rig
    job_id = rig.start("continuous")
    rig.streaming(job_id)
    base = 5_000_000
    products = [r[0] for r in rig.query("SELECT product_id FROM products ORDER BY 1 LIMIT 10")]
    statements = []
    for i in range(300):
        statements.append(
            (
                "INSERT INTO orders (order_id, customer_id, sold_by, order_date, ship_via, freight)"
                " SELECT %s, customer_id, 1, now(), NULL, 1 FROM customers ORDER BY 1 LIMIT 1",
                (base + i,),
            )
        )
        for p in products:
            statements.append(
                (
                    "INSERT INTO order_details VALUES (%s, %s, 10, 2, 0)",
                    (base + i, p),
                )
            )
    assert rig.execute(statements)
    # A large transaction that rolls back (its chunks already streamed) leaves no trace.
    with pytest.raises(psycopg.errors.DivisionByZero):
        rig.execute(
            [
                ("UPDATE order_details SET quantity = 99 WHERE order_id >= %s", (base,)),
                ("SELECT 1 / 0", ()),
            ]
        )
    rig.caught_up(job_id)
    rig.verify()
    assert rig.store.job(job_id)["events_total"] >= 300 * 11


def _restart(service: str) -> None:
    for action in ("down", "up"):
        subprocess.run(
            [str(REPO / "dev" / "services"), action, service],
            check=True,
            capture_output=True,
            timeout=180,
        )


@pytest.mark.alone(why="restarts FerretDB and PostgreSQL")
def test_target_and_source_restart_mid_cdc(pg_rig) -> None:
    rig = pg_rig
    rng = random.Random(99)
    job_id = rig.start("continuous")
    rig.streaming(job_id)
    rig.workload(rng, 20)
    _restart("ferretdb")
    rig.workload(rng, 20)
    rig.caught_up(job_id)
    rig.verify()
    _restart("postgres")
    rig.workload(rng, 20)
    rig.caught_up(job_id)
    rig.verify()
    job = rig.store.job(job_id)
    assert job["status"] == "RUNNING"
    retried = [i for i in rig.store.issues_of(job_id) if i["detail"].endswith(RETRIED)]
    assert retried, "the restarts were not noticed"
