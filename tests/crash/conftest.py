"""Fixtures of the crash tests: one source database per source kind (the tests' `source`
parameter) for the whole module.

Every case runs its own job into its own target database, so cases do not see each other's
documents; they share the source (its changes accumulate, which only makes the workload
richer) and the state store.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from cdc_rig import Rig, cleanup_rig, make_rig


@pytest.fixture(scope="module")
def source(request, services_settings, mongo_uri, tmp_path_factory) -> Iterator[Rig]:
    os.environ["RELMIG_TEST_PG_PASSWORD"] = services_settings["RELMIG_PG_PASSWORD"]
    os.environ["RELMIG_TEST_MYSQL_PASSWORD"] = services_settings["RELMIG_MYSQL_PASSWORD"]
    rig = make_rig(
        request.param, services_settings, mongo_uri, tmp_path_factory.mktemp("crash"), scale=0.2
    )
    yield rig
    cleanup_rig(rig)
