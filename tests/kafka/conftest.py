"""Fixtures of the Kafka-mode tests: the 3-broker cluster and a source rig (cdc_rig)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from cdc_rig import Rig, cleanup_rig, make_rig
from kafka_cluster import require_three_brokers, restore_cluster


@pytest.fixture
def kafka3(kafka_bootstrap: str) -> str:
    require_three_brokers(kafka_bootstrap)
    return kafka_bootstrap


@contextmanager
def _rig(
    dialect: str, services_settings, mongo_uri, tmp_path, monkeypatch, modeling="declared"
) -> Iterator[Rig]:
    monkeypatch.setenv("RELMIG_TEST_PG_PASSWORD", services_settings["RELMIG_PG_PASSWORD"])
    monkeypatch.setenv("RELMIG_TEST_MYSQL_PASSWORD", services_settings["RELMIG_MYSQL_PASSWORD"])
    r = make_rig(dialect, services_settings, mongo_uri, tmp_path, modeling=modeling)
    try:
        yield r
    finally:
        restore_cluster()  # a test that took brokers down may have failed before it ended
        cleanup_rig(r)


@pytest.fixture
def rig(services_settings, mongo_uri, tmp_path, monkeypatch, kafka3) -> Iterator[Rig]:
    """PostgreSQL."""
    with _rig("postgresql", services_settings, mongo_uri, tmp_path, monkeypatch) as r:
        yield r


@pytest.fixture(params=["postgresql", "mysql"])
def any_rig(request, services_settings, mongo_uri, tmp_path, monkeypatch, kafka3) -> Iterator[Rig]:
    with _rig(request.param, services_settings, mongo_uri, tmp_path, monkeypatch) as r:
        yield r


@pytest.fixture
def synthetic_rig(services_settings, mongo_uri, tmp_path, monkeypatch, kafka3) -> Iterator[Rig]:
    """PostgreSQL without declared foreign keys: synthetic relationships and expressions."""
    with _rig("postgresql", services_settings, mongo_uri, tmp_path, monkeypatch, "synthetic") as r:
        yield r
