"""Fixtures of the Kafka-mode tests: the 3-broker cluster and a PostgreSQL rig (cdc_rig)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cdc_rig import Rig, cleanup_rig, make_rig
from kafka_cluster import require_three_brokers, restore_cluster


@pytest.fixture
def kafka3(kafka_bootstrap: str) -> str:
    require_three_brokers(kafka_bootstrap)
    return kafka_bootstrap


@pytest.fixture
def rig(services_settings, mongo_uri, tmp_path, monkeypatch, kafka3) -> Iterator[Rig]:
    monkeypatch.setenv("RELMIG_TEST_PG_PASSWORD", services_settings["RELMIG_PG_PASSWORD"])
    r = make_rig("postgresql", services_settings, mongo_uri, tmp_path)
    try:
        yield r
    finally:
        restore_cluster()  # a test that took brokers down may have failed before it ended
        cleanup_rig(r)
