"""What "last event" means: the newest transaction that changed a mapped row (issue 23 §3: a
heartbeat's empty transaction moved it, and the CLI printed "events 0" beside it)."""

from __future__ import annotations

import datetime as dt

from relmig.source.changes import RowChange, Transaction, last_change_at

T0 = dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC)


def txn(minutes: int, changes: int) -> Transaction:
    rows = [RowChange("public.t", "c", None, {"id": i}) for i in range(changes)]
    return Transaction(f"0/{minutes}", T0 + dt.timedelta(minutes=minutes), rows)


def test_a_heartbeat_is_no_event() -> None:
    assert last_change_at([txn(1, 2), txn(2, 0)]) == T0 + dt.timedelta(minutes=1)
    assert last_change_at([txn(1, 0), txn(2, 0)]) is None
    assert last_change_at([]) is None
    assert last_change_at([txn(1, 0), txn(2, 3), txn(3, 0)]) == T0 + dt.timedelta(minutes=2)
