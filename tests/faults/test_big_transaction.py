"""bench/big_transaction.py's short mode: one UPDATE of 150,000 rows in a single transaction,
applied by a continuous job whose RSS is sampled, spooled past 1,000 changes and, as the
baseline, held in memory. Spooling must keep the job's RSS growth well below the baseline's,
and both runs end with verify equal (the script exits 1 on a difference).

On mongo-java-server: FerretDB's replace path is too slow for 150,000 recomputes in a test."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.services

REPO = Path(__file__).resolve().parents[2]


def test_a_large_transaction_keeps_the_job_rss_bounded(services_settings) -> None:
    s = services_settings
    run = subprocess.run(
        [
            sys.executable,
            "bench/big_transaction.py",
            *("--rows", "150000", "--in-memory", "1000", "--timeout", "600"),
            *("--mongo-uri", f"mongodb://{s['RELMIG_HOST']}:{s['RELMIG_MONGO2_PORT']}/"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    growth = re.search(r"peak RSS growth, spooled / held in memory: ([0-9.]+)", run.stdout)
    assert growth is not None, run.stdout
    assert float(growth.group(1)) < 0.5, run.stdout
