"""The peer harness (bench/peers/run.py) keeps working: its quick mode runs the peer pipeline
(Kafka Connect + Debezium + a MongoDB sink, jars from Maven Central), relmig embedded and relmig
Kafka mode against the dev servers, and every system's collection must equal the source after
every phase. Timing is printed, never asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.services, pytest.mark.shares("kafka")]

REPO = Path(__file__).resolve().parents[2]


def test_quick_peer_run_converges_for_every_system() -> None:
    res = subprocess.run(
        [sys.executable, str(REPO / "bench" / "peers" / "run.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=2400,
        cwd=REPO,
        check=False,
    )
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    passed = [line for line in out.splitlines() if line.startswith("- check:")]
    for system in ("peer", "embedded", "kafka"):
        mine = [line for line in passed if line.startswith(f"- check: {system} after")]
        # snapshot, burst and the two paced rates, each verified equal to the source
        assert len(mine) == 4 and all("verify passed" in line for line in mine), out[-4000:]
    assert "| embedded | " in out and "| kafka | " in out  # the relmig/peer ratio rows
