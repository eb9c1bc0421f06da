"""Fixtures of the fault tests: a CDC rig (tests/cdc_rig.py) whose job reaches every server
through its Toxiproxy proxy, while the rig's own workload and checks connect directly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cdc_rig import Rig, cleanup_rig, make_rig
from faults import Toxiproxy


@pytest.fixture
def routed_rig(faults: Toxiproxy, services_settings, tmp_path, monkeypatch) -> Iterator[Rig]:
    """PostgreSQL: queries, the replication stream and the target each on their own proxy."""
    monkeypatch.setenv("RELMIG_TEST_PG_PASSWORD", services_settings["RELMIG_PG_PASSWORD"])
    rig = make_rig(
        "postgresql", services_settings, faults.mongo_uri(), tmp_path, route=faults.route
    )
    yield rig
    cleanup_rig(rig)
