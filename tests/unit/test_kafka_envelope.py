"""The Kafka envelope: Debezium fields, exact root keys, plain JSON values, stable partitions."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import math
import uuid
from decimal import Decimal

from relmig.source.changes import UNCHANGED, RowChange
from relmig.transport.kafka import envelope
from relmig.transport.kafka.topics import spec_for

ORIGIN = envelope.Origin(
    "postgresql", "relmig.job-1", "shop", {"public.orders": ("public", "orders")}
)
COMMIT = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)


def test_a_change_message_is_a_debezium_envelope_plus_its_root() -> None:
    change = RowChange(
        "public.orders",
        "u",
        {"id": 7, "total": Decimal("1.10"), "note": UNCHANGED},
        {"id": 7, "total": Decimal("2.20"), "note": "x"},
    )
    key = (Decimal("10248.5"), dt.datetime(2024, 5, 6, 7, 8, 9, 123456), b"\x00\xff")
    raw = envelope.change_message(ORIGIN, change, "customers", key, "0/16B3748", COMMIT)
    message = json.loads(raw)
    assert message["op"] == "u"
    assert message["before"] == {"id": 7, "total": "1.10", "note": envelope.UNAVAILABLE}
    assert message["after"] == {"id": 7, "total": "2.20", "note": "x"}
    assert message["source"] == {
        "version": message["source"]["version"],
        "connector": "postgresql",
        "name": "relmig.job-1",
        "db": "shop",
        "schema": "public",
        "table": "orders",
        "position": "0/16B3748",
        "ts_ms": 1767323045678,
    }
    assert isinstance(message["ts_ms"], int)
    received = envelope.decode(raw)
    assert (received.op, received.collection) == ("u", "customers")
    assert received.key == key  # exact: the sink rebuilds this very root
    assert received.source_ts_ms == 1767323045678


def test_a_truncate_marker_names_no_root() -> None:
    raw = envelope.truncate_message(ORIGIN, "public.orders", "0/1", COMMIT)
    assert json.loads(raw)["op"] == "t"
    received = envelope.decode(raw)
    assert (received.collection, received.key) == (None, None)


def test_values_become_plain_json() -> None:
    plain = envelope._plain
    assert plain(Decimal("123456789012345678901234.5")) == "123456789012345678901234.5"
    assert plain(dt.date(2024, 2, 29)) == "2024-02-29"
    assert plain(dt.time(1, 2, 3, 4)) == "01:02:03.000004"
    assert plain(dt.timedelta(days=1, seconds=1, microseconds=500000)) == "PT86401.5S"
    assert plain(memoryview(b"ab")) == "YWI="
    u = uuid.uuid4()
    assert plain(u) == str(u)
    assert [plain(math.nan), plain(math.inf), plain(-math.inf)] == ["NaN", "Infinity", "-Infinity"]
    assert plain({"a": [Decimal("1"), None, {"b"}]}) == {"a": ["1", None, ["b"]]}
    assert plain(ipaddress.ip_address("10.0.0.1")) == "10.0.0.1"  # and other types: their text


def test_a_root_keeps_its_partition() -> None:
    key = envelope.root_key("orders", {"_id": 10248}, (10248,))
    assert key == b'orders {"_id": {"$numberInt": "10248"}}'
    # The mapping must never change under a running job: pin it.
    assert envelope.partition_of(key, 6) == envelope.partition_of(bytes(key), 6) == 0
    assert {envelope.partition_of(b"orders %d" % i, 6) for i in range(100)} == set(range(6))


def test_replication_follows_the_cluster_size() -> None:
    assert (spec_for(3, 6).replication, spec_for(3, 6).min_insync) == (3, 2)
    assert (spec_for(5, 6).replication, spec_for(5, 6).min_insync) == (3, 2)
    assert (spec_for(1, 6).replication, spec_for(1, 6).min_insync) == (1, 1)
