"""Fixtures of the CDC tests: a rig (tests/cdc_rig.py) per test, on each source."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cdc_rig import Rig, cleanup_rig, make_rig


@pytest.fixture(autouse=True)
def _source_passwords(monkeypatch: pytest.MonkeyPatch, services_settings) -> None:
    monkeypatch.setenv("RELMIG_TEST_PG_PASSWORD", services_settings["RELMIG_PG_PASSWORD"])
    monkeypatch.setenv("RELMIG_TEST_MYSQL_PASSWORD", services_settings["RELMIG_MYSQL_PASSWORD"])


@pytest.fixture(params=["postgresql", "mysql"])
def rig(request, services_settings, mongo_uri, tmp_path) -> Iterator[Rig]:
    r = make_rig(request.param, services_settings, mongo_uri, tmp_path)
    yield r
    cleanup_rig(r)


@pytest.fixture
def pg_rig(services_settings, mongo_uri, tmp_path) -> Iterator[Rig]:
    r = make_rig("postgresql", services_settings, mongo_uri, tmp_path)
    yield r
    cleanup_rig(r)


@pytest.fixture(params=["postgresql", "mysql"])
def synthetic_rig(request, services_settings, mongo_uri, tmp_path) -> Iterator[Rig]:
    """No declared foreign keys: synthetic relationships and expressions carry the mapping."""
    r = make_rig(request.param, services_settings, mongo_uri, tmp_path, modeling="synthetic")
    yield r
    cleanup_rig(r)


@pytest.fixture
def pg_synthetic_rig(services_settings, mongo_uri, tmp_path) -> Iterator[Rig]:
    r = make_rig("postgresql", services_settings, mongo_uri, tmp_path, modeling="synthetic")
    yield r
    cleanup_rig(r)
