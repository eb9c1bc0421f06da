"""Checkpoint keys survive a JSON round trip exactly; the error policy stops when it should."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from relmig.runtime.keys import dumps_key, loads_key, show_key
from relmig.runtime.policy import ErrorPolicy, JobFailed


def test_keys_round_trip_exactly() -> None:
    key = (
        1,
        "a'b",
        Decimal("12.3400"),
        uuid.UUID(int=7),
        dt.date(2024, 2, 29),
        dt.datetime(2024, 1, 1, 12, 0, 0, 123456, tzinfo=dt.UTC),
        b"\x00\xff",
        True,
        None,
    )
    assert loads_key(dumps_key(key)) == key
    assert loads_key(dumps_key(key))[2].as_tuple() == Decimal("12.3400").as_tuple()


def test_show_key() -> None:
    assert show_key((42,)) == "42"
    assert show_key((10248, 11)) == "(10248, 11)"


def test_fail_stops_at_first_error() -> None:
    policy = ErrorPolicy("FAIL")
    policy.count(0, "nothing")
    with pytest.raises(JobFailed, match="first error"):
        policy.count(1, "t key 1: bad")


@pytest.mark.parametrize("mode", ["WARN", "SKIP"])
def test_threshold(mode: str) -> None:
    policy = ErrorPolicy(mode, max_errors=3)  # type: ignore[arg-type]
    policy.count(2, "x")
    policy.count(1, "x")
    with pytest.raises(JobFailed, match="after 4 errors"):
        policy.count(1, "x")


def test_no_threshold_never_stops() -> None:
    policy = ErrorPolicy("SKIP")
    policy.count(10_000, "x")
    assert policy.seen == 10_000
