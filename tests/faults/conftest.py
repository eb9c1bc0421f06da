"""Fixtures of the fault tests: a CDC rig (tests/cdc_rig.py) whose job reaches every server
through its Toxiproxy proxy, while the rig's own workload and checks connect directly; and
short bounds, so that a stalled link is noticed in seconds instead of minutes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cdc_rig import Rig, cleanup_rig, make_rig
from faults import Toxiproxy
from relmig.source.pg_capture import PostgresCapture


@pytest.fixture
def routed_rig(faults: Toxiproxy, services_settings, tmp_path, monkeypatch) -> Iterator[Rig]:
    """PostgreSQL: queries, the replication stream and the target each on their own proxy."""
    monkeypatch.setenv("RELMIG_TEST_PG_PASSWORD", services_settings["RELMIG_PG_PASSWORD"])
    rig = make_rig(
        "postgresql", services_settings, faults.mongo_uri(), tmp_path, route=faults.route
    )
    yield rig
    cleanup_rig(rig)


@pytest.fixture
def routed_mysql_rig(faults: Toxiproxy, services_settings, tmp_path, monkeypatch) -> Iterator[Rig]:
    """MariaDB (queries and the binlog share its proxy), and the target on its own."""
    monkeypatch.setenv("RELMIG_TEST_MYSQL_PASSWORD", services_settings["RELMIG_MYSQL_PASSWORD"])
    rig = make_rig("mysql", services_settings, faults.mongo_uri(), tmp_path, route=faults.route)
    yield rig
    cleanup_rig(rig)


# Bounds of the fault tests (relmig.timeouts): a statement may take 3 s (the client gives up
# at 6 s), a stream may stay silent 5 s; the pgoutput stream heartbeats every second.
QUERY_SECONDS = 3
STREAM_SECONDS = 5


@pytest.fixture
def short_bounds(monkeypatch) -> None:
    monkeypatch.setenv("RELMIG_QUERY_TIMEOUT", str(QUERY_SECONDS))
    monkeypatch.setenv("RELMIG_STREAM_TIMEOUT", str(STREAM_SECONDS))
    monkeypatch.setattr(PostgresCapture, "heartbeat_seconds", 1.0)
