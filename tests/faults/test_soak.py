"""bench/soak.py's short mode: two minutes of a steady mixed workload with two kill -9 and
Resume cycles, ending with verify equal (the script exits 1 on a difference)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.services

REPO = Path(__file__).resolve().parents[2]


def test_a_two_minute_soak_with_kills_converges() -> None:
    run = subprocess.run(
        [sys.executable, "bench/soak.py", "--minutes", "2"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "verify at the end: **equal**" in run.stdout
    assert run.stdout.count("kill -9, ") == 2
