"""The fault proxy's plumbing: every link goes through its own Toxiproxy proxy, and the toxics
do to relmig's connections what they say.

These tests prove the harness the fault scenarios build on; they inject no fault into a job.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from pymongo import MongoClient
from pymongo.errors import AutoReconnect, NetworkTimeout

from cdc_rig import Rig
from faults import SERVER_LINKS, Toxiproxy, bandwidth, latency, reset_peer, slicer, timeout
from relmig.errors import SourceError
from relmig.project.file import save_project
from relmig.source.capture import open_capture
from relmig.source.connect import open_source

pytestmark = pytest.mark.services


def test_dev_services_creates_one_proxy_per_link(faults: Toxiproxy, services_settings) -> None:
    s = services_settings
    proxies = faults.proxies()
    pg = f"{s['RELMIG_HOST']}:{s['RELMIG_PG_PORT']}"
    expected = {
        "postgres": (s["RELMIG_FAULT_PG_PORT"], pg),
        "postgres_replication": (s["RELMIG_FAULT_PG_REPLICATION_PORT"], pg),
        "mariadb": (s["RELMIG_FAULT_MYSQL_PORT"], f"{s['RELMIG_HOST']}:{s['RELMIG_MYSQL_PORT']}"),
        "ferretdb": (s["RELMIG_FAULT_MONGO_PORT"], f"{s['RELMIG_HOST']}:{s['RELMIG_MONGO_PORT']}"),
    }
    for name, (port, upstream) in expected.items():
        assert (proxies[name].port, proxies[name].upstream) == (int(port), upstream), name
    kafka = faults.kafka_proxies()
    assert kafka, "no Kafka proxies"
    assert [p.port for p in kafka] == [
        int(s["RELMIG_FAULT_KAFKA_PORT"]) + i for i in range(len(kafka))
    ]


def _ping_seconds(client: MongoClient) -> float:
    started = time.monotonic()
    client.admin.command("ping")
    return time.monotonic() - started


def test_latency_on_the_ferretdb_link_delays_a_ping(faults: Toxiproxy) -> None:
    client: MongoClient = MongoClient(faults.mongo_uri(), serverSelectionTimeoutMS=10_000)
    try:
        client.admin.command("ping")  # connected before the toxic
        with faults.proxy("ferretdb").toxic(latency(400, jitter=100)):
            delayed = _ping_seconds(client)
        # A lower bound only: the toxic holds every reply at least 300 ms; noise only adds.
        assert delayed >= 0.3
        assert _ping_seconds(client) < delayed  # and the toxic is gone again
    finally:
        client.close()


def test_a_stalled_link_times_out_and_a_reset_cuts_it(faults: Toxiproxy) -> None:
    client: MongoClient = MongoClient(
        faults.mongo_uri(), serverSelectionTimeoutMS=5_000, socketTimeoutMS=1_000
    )
    proxy = faults.proxy("ferretdb")
    try:
        client.admin.command("ping")
        with proxy.toxic(timeout(0)), pytest.raises(NetworkTimeout):
            client.admin.command("ping")  # bytes stop, the socket stays open
        with proxy.toxic(reset_peer(0)), pytest.raises(AutoReconnect):
            client.admin.command("ping")
        client.admin.command("ping")  # healthy once the toxics are gone
    finally:
        client.close()


def test_slicer_and_bandwidth_keep_the_data_intact(faults: Toxiproxy) -> None:
    client: MongoClient = MongoClient(faults.mongo_uri(), serverSelectionTimeoutMS=10_000)
    db = client[f"faults_{uuid.uuid4().hex[:8]}"]
    proxy = faults.proxy("ferretdb")
    payload = os.urandom(256 * 1024).hex()  # 512 KB of text
    try:
        db.blobs.insert_one({"_id": 1, "payload": payload})
        with proxy.toxic(slicer(64, 32, delay_us=10)):
            assert db.blobs.find_one({"_id": 1})["payload"] == payload
        with proxy.toxic(bandwidth(512)):  # KB/s
            started = time.monotonic()
            assert db.blobs.find_one({"_id": 1})["payload"] == payload
            # 512 KB at 512 KB/s: a lower bound, with room for the toxic's first burst.
            assert time.monotonic() - started >= 0.5
    finally:
        client.drop_database(db.name)
        client.close()


def test_a_disabled_postgres_link_fails_with_relmigs_message(
    faults: Toxiproxy, routed_rig: Rig, tmp_path: Path
) -> None:
    project_file = tmp_path / "p.yaml"
    save_project(routed_rig.project, project_file)
    with faults.proxy("postgres").down():
        result = subprocess.run(
            [sys.executable, "-m", "relmig.cli", "preview", str(project_file), "customers"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, "COLUMNS": "200"},
        )
    out = result.stdout + result.stderr
    port = routed_rig.project.source.port
    assert result.returncode == 2, out
    assert f"cannot connect to the postgresql source relmig@127.0.0.1:{port}/" in out
    assert "Traceback" not in out


def test_the_replication_connection_has_its_own_link(faults: Toxiproxy, routed_rig: Rig) -> None:
    routed = routed_rig.project.source
    capture = open_capture(routed_rig.project, f"faults{uuid.uuid4().hex[:8]}")
    try:
        position = capture.start()
        with faults.proxy("postgres_replication").down():
            with open_source(routed) as source:  # queries still pass
                assert source.fetch("SELECT 1") == [(1,)]
            with pytest.raises(SourceError, match="cannot open a replication connection") as err:
                capture.stream(position)
            assert f"(at 127.0.0.1:{routed.replication_port})" in str(err.value)
        capture.stream(position).close()  # and the link, back up, carries it
    finally:
        capture.cleanup()
        capture.close()


@pytest.mark.disrupts("kafka-proxies", why="faults Kafka's links, which every worker shares")
@pytest.mark.xdist_group("kafka-proxies")
def test_kafka_clients_that_bootstrap_through_the_proxies_stay_on_them(
    faults: Toxiproxy, kafka_bootstrap: str
) -> None:
    proxies = faults.kafka_proxies()
    via_proxies = faults.kafka_bootstrap()
    quiet = {"log_level": 0, "socket.connection.setup.timeout.ms": 3000}
    brokers = AdminClient({"bootstrap.servers": via_proxies, **quiet}).list_topics(timeout=10)
    assert sorted((b.host, b.port) for b in brokers.brokers.values()) == sorted(
        (p.host, p.port) for p in proxies
    )

    topic = f"faults-{uuid.uuid4().hex[:8]}"
    producer = Producer({"bootstrap.servers": via_proxies, "acks": "all", **quiet})
    producer.produce(topic, b"through the proxies")
    assert producer.flush(30) == 0
    consumer = Consumer(
        {
            "bootstrap.servers": via_proxies,
            "group.id": topic,
            "auto.offset.reset": "earliest",
            **quiet,
        }
    )
    consumer.subscribe([topic])
    deadline = time.monotonic() + 30
    message = None
    while message is None and time.monotonic() < deadline:
        message = consumer.poll(1)
    consumer.close()
    assert message is not None and message.value() == b"through the proxies"

    # With every Kafka proxy down the brokers still run, yet these clients reach none of them.
    failed: list[str] = []
    stuck = Producer(
        {"bootstrap.servers": via_proxies, "message.timeout.ms": 4000, "acks": "all", **quiet}
    )
    for proxy in proxies:
        proxy.set_enabled(False)
    stuck.produce(topic, b"lost", on_delivery=lambda err, _msg: failed.append(str(err)))
    stuck.flush(15)
    assert failed and "timed out" in failed[0].lower()
    direct = Producer({"bootstrap.servers": kafka_bootstrap, "acks": "all", **quiet})
    direct.produce(topic, b"direct")
    assert direct.flush(30) == 0
    with pytest.raises(KafkaException):
        AdminClient({"bootstrap.servers": via_proxies, **quiet}).list_topics(timeout=3)


def _upstream_ports(services_dir: Path, server_port: int) -> set[int]:
    """Local ports of Toxiproxy's open connections to a server."""
    pid = int((services_dir / "run" / "toxiproxy.pid").read_text())
    return {
        c.laddr.port
        for c in psutil.Process(pid).net_connections("tcp")
        if c.raddr and c.raddr.port == server_port and c.status == psutil.CONN_ESTABLISHED
    }


def test_a_continuous_job_through_the_proxies_verifies_equal(
    routed_rig: Rig, services_settings, services_dir: Path
) -> None:
    rig = routed_rig
    job_id = rig.start("continuous")
    rig.streaming(job_id)
    rig.verify()
    assert rig.workload(random.Random(14), 30) > 10
    rig.caught_up(job_id)
    rig.verify()

    # Every connection the job holds to PostgreSQL comes out of Toxiproxy, the walsender and
    # the query connections alike (their client ports are Toxiproxy's sockets), and so does
    # its target connection.
    s = services_settings
    with open_source(rig.settings) as source:
        backends = source.fetch(
            "SELECT client_port, backend_type FROM pg_stat_activity "
            "WHERE datname = %s AND application_name LIKE 'relmig%%' AND pid <> pg_backend_pid()",
            (rig.settings.database,),
        )
    assert {kind for _, kind in backends} >= {"walsender", "client backend"}
    assert {port for port, _ in backends} <= _upstream_ports(services_dir, int(s["RELMIG_PG_PORT"]))
    assert _upstream_ports(services_dir, int(s["RELMIG_MONGO_PORT"]))


@pytest.mark.disrupts("fault-proxies", why="faults dev/services' proxies to see it in its status")
@pytest.mark.xdist_group("fault-proxies")
def test_dev_services_status_lists_the_proxies_and_their_toxics(faults: Toxiproxy) -> None:
    with faults.proxy("mariadb").toxic(latency(100)) as name, faults.proxy("ferretdb").down():
        result = subprocess.run(
            [str(Path(__file__).resolve().parents[2] / "dev" / "services"), "status", "toxiproxy"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    # dev/services' own proxies (the test workers' copies of the links are theirs)
    assert set(lines) == {*SERVER_LINKS, *(p.name for p in faults.kafka_proxies())}
    assert name in lines["mariadb"] and "enabled" in lines["mariadb"]
    assert "DISABLED" in lines["ferretdb"]
    assert "no toxics" in lines["postgres"]
