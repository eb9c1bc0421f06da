"""A transaction's changes past the in-memory bound go to disk and come back in order."""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import pickle
import uuid

import pytest
from bson import DatetimeMS
from psycopg.types.range import Range

from relmig.errors import RelmigError
from relmig.source.changes import RowChange, TableTruncate, last_change
from relmig.source.pgoutput import UNCHANGED
from relmig.source.spool import CHUNK, DEFAULT_IN_MEMORY, SpooledChanges, in_memory_changes


def change(i: int) -> RowChange:
    return RowChange("public.t", "u", {"id": i}, {"id": i, "note": UNCHANGED})


def test_changes_past_the_bound_are_spilled_and_read_back_in_order() -> None:
    spool = SpooledChanges(in_memory=10)
    for i in range(10 + 3 * CHUNK + 7):
        spool.append(change(i))
    assert spool.spilled
    assert len(spool._head) == 10 and len(spool._tail) == 7  # memory: the bound plus a chunk
    out = list(spool)
    assert [c.after["id"] for c in out] == list(range(10 + 3 * CHUNK + 7))
    assert out[0].after["note"] is UNCHANGED  # the sentinel survives the round trip
    assert len(spool) == len(out) and list(spool) == out  # read twice, same result
    assert last_change(spool) == change(10 + 3 * CHUNK + 6)
    spool.close()


def test_a_small_transaction_never_touches_the_disk() -> None:
    spool = SpooledChanges(in_memory=10)
    for i in range(10):
        spool.append(change(i))
    spool.append(TableTruncate(["public.t"]))
    assert not spool.spilled and len(spool) == 11
    assert last_change(spool) == TableTruncate(["public.t"])
    assert not SpooledChanges(in_memory=10) and last_change([]) is None


def test_an_aborted_subtransaction_is_skipped_on_disk_and_in_memory() -> None:
    spool = SpooledChanges(in_memory=5)
    for i in range(3 * CHUNK):
        spool.append(change(i), tag=100 + i % 3)  # three subtransactions, interleaved
    spool.drop(101)
    kept = [c.after["id"] for c in spool]
    assert kept == [i for i in range(3 * CHUNK) if i % 3 != 1]
    assert len(spool) == len(kept)


def test_the_in_memory_bound_comes_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("RELMIG_TXN_MEMORY_CHANGES", "0")
    spool = SpooledChanges()
    for i in range(CHUNK):
        spool.append(change(i))
    assert spool.spilled and not spool._head
    assert pickle.loads(pickle.dumps(change(1))) == change(1)


def test_equal_to_the_same_changes_in_memory_or_spilled() -> None:
    spilled, held = SpooledChanges(in_memory=1), SpooledChanges()
    for i in range(CHUNK + 2):
        spilled.append(change(i))
        held.append(change(i))
    assert spilled == held == [change(i) for i in range(CHUNK + 2)]
    held.append(change(-1))
    assert spilled != held


def test_every_kind_of_loaded_value_survives_the_disk() -> None:
    """Row images hold what the drivers' loaders return; each must come back equal."""
    values = {
        "range": Range(1, 5, "[)"),
        "net": ipaddress.ip_network("10.0.0.0/8"),
        "addr": ipaddress.ip_address("::1"),
        "far": DatetimeMS(-(10**15)),
        "dec": decimal.Decimal("-1.50"),
        "span": dt.timedelta(days=3, microseconds=7),
        "when": dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC),
        "id": uuid.UUID(int=7),
        "doc": {"a": [1, {"b": None}], "c": "ü"},
        "bytes": b"\x00\xff",
        "toast": UNCHANGED,
    }
    spool = SpooledChanges(in_memory=0)
    for _ in range(CHUNK):
        spool.append(RowChange("public.t", "u", None, values))
    assert spool.spilled
    back = next(iter(spool)).after
    assert back == values and back["toast"] is UNCHANGED
    nan = pickle.loads(pickle.dumps(decimal.Decimal("NaN")))
    assert nan.is_nan()


def test_a_bad_bound_is_named(monkeypatch) -> None:
    monkeypatch.setenv("RELMIG_TXN_MEMORY_CHANGES", "lots")
    with pytest.raises(RelmigError, match="RELMIG_TXN_MEMORY_CHANGES='lots' is not a number"):
        SpooledChanges()
    monkeypatch.setenv("RELMIG_TXN_MEMORY_CHANGES", " ")
    assert in_memory_changes() == DEFAULT_IN_MEMORY
