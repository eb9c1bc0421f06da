"""The dev Kafka cluster in tests: its brokers, SIGKILL of a node, and bringing every node back.

Shared by the services test (tests/services) and the Kafka-mode tests (tests/kafka); imported by
name (tests/ is on sys.path through its conftest).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from confluent_kafka.admin import AdminClient

REPO = Path(__file__).resolve().parent.parent
WAIT = 90  # seconds, for any single wait
NODES = 3

T = TypeVar("T")


def wait_for(cond: Callable[[], T], what: str, timeout: float = WAIT) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.5)


def running(pid: int) -> bool:
    """Alive and not a zombie (orphans are reaped by init, a little later)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def require_three_brokers(bootstrap: str) -> AdminClient:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    brokers = admin.list_topics(timeout=15).brokers
    if len(brokers) < NODES:
        pytest.fail(
            f"this test needs the 3-node Kafka cluster but found {len(brokers)} broker(s) at "
            f"{bootstrap}: run `dev/services up --kafka-nodes 3` (`make test` does)"
        )
    return admin


def kill_node(services_dir: Path, node: int) -> None:
    """SIGKILL one Kafka node (broker and controller) and wait until it is gone."""
    pid = int((services_dir / "run" / f"kafka-{node}.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not running(pid), f"kafka node {node} to die", 15)


def restore_cluster() -> None:
    """Start whatever node is down, so later tests see three nodes again."""
    done = subprocess.run(
        [str(REPO / "dev" / "services"), "up", "--kafka-nodes", str(NODES), "kafka"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
