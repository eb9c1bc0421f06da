"""Differential proof of CDC: after any workload, the target equals a fresh snapshot.

A continuous job runs over the deep mapping while random multi-table transactions (inserts,
updates, deletes, foreign key moves, primary key changes, fan-out updates four levels deep)
hit the source. Once CDC has caught up, `verify` must find nothing missing, extra or different.
Hypothesis drives the workload (and shrinks a failing one); a longer seeded run follows.
It runs against both targets: on mongo2 every recompute is a bulk of ReplaceOne upserts, the
MongoDB path that FerretDB v1 (delete + insert) never takes.
"""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.services


@pytest.fixture(scope="session")
def mongo_uri(any_target_uri: str) -> str:
    return any_target_uri


def test_continuous_job_converges_under_random_workloads(rig) -> None:
    converges_under_random_workloads(rig)


def test_synthetic_relationships_and_expressions_converge(synthetic_rig) -> None:
    """No declared foreign key: synthetic relationships carry three levels, with calculated
    fields, filters on the root and on an array and custom `_id`s (tests/cdc_rig.py)."""
    converges_under_random_workloads(synthetic_rig)


def converges_under_random_workloads(rig) -> None:
    job_id = rig.start("continuous")
    rig.streaming(job_id)
    rig.verify()  # the snapshot itself

    @settings(
        max_examples=4,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(seed=st.integers(0, 2**32 - 1), transactions=st.integers(1, 25))
    def random_workload(seed: int, transactions: int) -> None:
        rig.workload(random.Random(seed), transactions)
        rig.caught_up(job_id)
        rig.verify()

    random_workload()

    # A longer seeded run, as a soak (RELMIG_SOAK_TRANSACTIONS for a longer one).
    transactions = int(os.environ.get("RELMIG_SOAK_TRANSACTIONS", "150"))
    committed = rig.workload(random.Random(20261128), transactions)
    assert committed > transactions // 3
    rig.caught_up(job_id)
    rig.verify()
    job = rig.store.job(job_id)
    assert job["status"] == "RUNNING" and job["events_total"] > committed
