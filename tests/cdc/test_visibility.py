"""A streamed commit can reach relmig a moment before new reads see it; wait_visible waits.

Found by bench/cdc.py: a recompute that ran in that window wrote the old state and then
checkpointed past the change. Here a transaction is held open, so "not yet visible" lasts as long
as the test wants, and wait_visible must block until the commit.
"""

from __future__ import annotations

import datetime as dt
import threading

import psycopg
import pymysql
import pytest

from relmig.source.capture import open_capture
from relmig.source.changes import RowChange, Transaction

pytestmark = pytest.mark.services


def _open_writer(rig, services_settings):
    s = services_settings
    if rig.dialect == "postgresql":
        conn = psycopg.connect(
            host=s["RELMIG_HOST"],
            port=int(s["RELMIG_PG_PORT"]),
            user=s["RELMIG_PG_USER"],
            password=s["RELMIG_PG_PASSWORD"],
            dbname=rig.settings.database,
        )

        def run_pg(sql, p=()):
            cur = conn.execute(sql, p)
            return cur.fetchall() if cur.description else []

        return conn, run_pg
    conn = pymysql.connect(
        host=s["RELMIG_HOST"],
        port=int(s["RELMIG_MYSQL_PORT"]),
        user=s["RELMIG_MYSQL_USER"],
        password=s["RELMIG_MYSQL_PASSWORD"],
        database=rig.settings.database,
        autocommit=False,
    )

    def run(sql, p=()):
        with conn.cursor() as cur:
            cur.execute(sql, p)
            return list(cur.fetchall())

    return conn, run


def test_wait_visible_blocks_until_the_commit(rig, services_settings) -> None:
    capture = open_capture(rig.project, "visibility")
    conn, run = _open_writer(rig, services_settings)
    try:
        (customer,) = run("SELECT customer_id FROM customers ORDER BY customer_id LIMIT 1")[0]
        run("UPDATE customers SET company_name = 'held' WHERE customer_id = %s", (customer,))
        xid = None
        if rig.dialect == "postgresql":
            xid = run("SELECT txid_current()")[0][0] & 0xFFFFFFFF
        schema = "public" if rig.dialect == "postgresql" else rig.settings.database
        change = RowChange(
            f"{schema}.customers", "u", None, {"customer_id": customer, "company_name": "held"}
        )
        txn = Transaction("0", dt.datetime.now(dt.UTC), [change], xid)
        waiter = threading.Thread(target=capture.wait_visible, args=([txn],), daemon=True)
        waiter.start()
        waiter.join(1.0)
        assert waiter.is_alive(), "returned while the transaction was still running"
        conn.commit()
        waiter.join(30)
        assert not waiter.is_alive()
        assert run("SELECT company_name FROM customers WHERE customer_id = %s", (customer,)) == [
            ("held",)
        ]
    finally:
        conn.close()
        capture.close()
