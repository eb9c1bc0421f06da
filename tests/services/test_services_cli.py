"""dev/services on bad input and after crashes.

Each test drives a separate, throwaway instance (its own RELMIG_DEV_DIR and free ports), so the
services the other tests use are never touched.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

pytestmark = pytest.mark.services

REPO = Path(__file__).resolve().parents[2]
DEV_SERVICES = str(REPO / "dev" / "services")
PORT_VARS = {
    "postgres": "RELMIG_PG_PORT",
    "mariadb": "RELMIG_MYSQL_PORT",
    "ferretdb": "RELMIG_MONGO_PORT",
    "kafka": "RELMIG_KAFKA_BROKER_PORT",
}
LOGS = {
    "postgres": "postgres.log",
    "mariadb": "mariadb.log",
    "ferretdb": "ferretdb.log",
    "kafka": "kafka-1.log",
}


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class Instance:
    def __init__(self) -> None:
        # Short path (socket paths are limited) that the postgres OS user can reach.
        self.dir = Path(tempfile.mkdtemp(prefix="relmig-dev-", dir="/tmp"))
        self.dir.chmod(0o755)
        ports = free_ports(16)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RELMIG_")}
        self.env.update(
            {
                "RELMIG_DEV_DIR": str(self.dir),
                "RELMIG_PG_PORT": str(ports[0]),
                "RELMIG_MYSQL_PORT": str(ports[1]),
                "RELMIG_MONGO_PORT": str(ports[2]),
                "RELMIG_FERRETDB_DEBUG_PORT": str(ports[3]),
                "RELMIG_KAFKA_BROKER_PORT": str(ports[4]),
                "RELMIG_KAFKA_CONTROLLER_PORT": str(ports[5]),
                # Every other port too: the suite's own servers hold the defaults.
                "RELMIG_KAFKA_PROXIED_PORT": str(ports[6]),
                "RELMIG_MONGO2_PORT": str(ports[7]),
                "RELMIG_TOXIPROXY_PORT": str(ports[8]),
                "RELMIG_FAULT_PG_PORT": str(ports[9]),
                "RELMIG_FAULT_PG_REPLICATION_PORT": str(ports[10]),
                "RELMIG_FAULT_MYSQL_PORT": str(ports[11]),
                "RELMIG_FAULT_MONGO_PORT": str(ports[12]),
                "RELMIG_MONGO_TLS_PORT": str(ports[13]),
                "RELMIG_KAFKA_SSL_PORT": str(ports[14]),
                "RELMIG_KAFKA_SASL_SSL_PORT": str(ports[15]),
            }
        )

    def run(self, *args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [DEV_SERVICES, *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def pid(self, name: str) -> int:
        if name == "postgres":
            return int((self.dir / "pg" / "data" / "postmaster.pid").read_text().split()[0])
        return int((self.dir / "run" / f"{name}.pid").read_text())


@pytest.fixture
def instance():
    inst = Instance()
    try:
        yield inst
    finally:
        inst.run("down", timeout=120)
        shutil.rmtree(inst.dir, ignore_errors=True)


def running(pid: int) -> bool:
    """Alive and not a zombie (orphans are reaped by init, a little later)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_gone(pid: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while running(pid):
        assert time.monotonic() < deadline, f"pid {pid} still alive after {timeout}s"
        time.sleep(0.1)


@pytest.mark.parametrize("service", sorted(PORT_VARS))
def test_up_names_the_service_whose_port_is_taken(instance, service):
    port = int(instance.env[PORT_VARS[service]])
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        res = instance.run("up", service)
    out = res.stdout + res.stderr
    log = instance.dir / "logs" / LOGS[service]
    assert res.returncode == 1, out
    assert (
        f"{service:9} FAILED  port 127.0.0.1:{port} is already in use by pid {os.getpid()}" in out
    )
    assert f"log: {log}" in out
    assert "already in use" in log.read_text()
    assert instance.run("status", service).returncode == 1


def test_up_shows_the_log_of_a_service_that_dies_while_starting(instance):
    res = instance.run("up", "kafka", RELMIG_KAFKA_HEAP="-Xmx1k")  # the JVM refuses this heap
    out = res.stdout + res.stderr
    assert res.returncode == 1, out
    assert "kafka     FAILED" in out
    assert f"log: {instance.dir / 'logs' / 'kafka-1.log'}" in out
    assert "Too small maximum heap" in out  # the last lines of the log are shown


def test_status_and_down_when_nothing_runs(instance):
    res = instance.run("status")
    assert res.returncode == 1
    for service in PORT_VARS:
        assert f"{service:9} DOWN" in res.stdout
    res = instance.run("down")
    assert res.returncode == 0
    assert res.stdout.count("was not running") == 7  # with the 3 optional ones


def test_bad_arguments_are_refused():
    res = subprocess.run(
        [DEV_SERVICES, "up", "--kafka-nodes", "0"], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 2 and "--kafka-nodes must be between 1 and" in res.stderr
    res = subprocess.run(
        [DEV_SERVICES, "status", "mongodb"], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 2 and "unknown service(s) mongodb" in res.stderr


def test_ferretdb_comes_back_after_kill_9_and_down_stops_it(instance):
    res = instance.run("up", "ferretdb")
    assert res.returncode == 0, res.stdout + res.stderr
    first = instance.pid("ferretdb")
    assert instance.run("up", "ferretdb").stdout.startswith("ferretdb  up      already running")

    os.kill(first, signal.SIGKILL)
    wait_gone(first)
    assert instance.run("status", "ferretdb").returncode == 1
    res = instance.run("up", "ferretdb")  # stale pid file
    assert res.returncode == 0, res.stdout + res.stderr
    second = instance.pid("ferretdb")
    assert second != first
    assert instance.run("status", "ferretdb").returncode == 0

    assert instance.run("down", "ferretdb").stdout.startswith("ferretdb  stopped")
    assert not running(second)
    with socket.socket() as s:
        s.bind(("127.0.0.1", int(instance.env["RELMIG_MONGO_PORT"])))  # port is free again


def test_postgres_comes_back_after_kill_9_with_its_data(instance):
    res = instance.run("up", "postgres")
    assert res.returncode == 0, res.stdout + res.stderr
    dsn = (
        f"postgresql://relmig:relmig@127.0.0.1:{instance.env['RELMIG_PG_PORT']}/relmig"
        "?connect_timeout=10"
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE survivor (id int)")
        conn.execute("INSERT INTO survivor VALUES (42)")

    postmaster = instance.pid("postgres")
    os.kill(postmaster, signal.SIGKILL)
    wait_gone(postmaster)
    res = instance.run("up", "postgres")  # stale postmaster.pid, orphaned backends
    assert res.returncode == 0, res.stdout + res.stderr
    assert instance.pid("postgres") != postmaster
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT id FROM survivor").fetchall() == [(42,)]

    assert instance.run("down", "postgres").returncode == 0
    assert instance.run("status", "postgres").returncode == 1
