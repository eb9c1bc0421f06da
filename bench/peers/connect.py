"""The peer pipeline: a Kafka Connect worker with Debezium's PostgreSQL source and a MongoDB sink.

Everything is released jars from Maven Central, resolved by bench/peers/pom.xml into the tools
cache (`$RELMIG_TOOLS_DIR`, default ~/.cache/relmig-dev) on first use, like dev/services does
for Kafka itself; nothing is committed. The worker runs in standalone mode (offsets in a file)
against the dev Kafka, and connectors are created and deleted through its REST API.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
POM = HERE / "pom.xml"
LOG4J = HERE.parents[1] / "dev" / "kafka" / "log4j2.properties"
TOOLS = Path(os.environ.get("RELMIG_TOOLS_DIR") or Path.home() / ".cache" / "relmig-dev")
PLUGINS = ("postgres", "mongo-sink", "debezium-mongo-sink")
MVN_TIMEOUT = 900.0
START_TIMEOUT = 180.0

# The sink connectors the harness can use, with the settings that make them write what relmig
# writes for a 1:1 mapping with a wrapped key: {_id: {id: …}, column: value, …}.
SINKS: dict[str, dict[str, str]] = {
    # MongoDB's own connector with its Debezium (RDBMS) change-event handler.
    "mongo-kafka": {
        "connector.class": "com.mongodb.kafka.connect.MongoSinkConnector",
        "change.data.capture.handler": (
            "com.mongodb.kafka.connect.sink.cdc.debezium.rdbms.postgres.PostgresHandler"
        ),
    },
    # Debezium's MongoDB sink (a port of the handler above into Debezium).
    "debezium": {"connector.class": "io.debezium.connector.mongodb.MongoDbSinkConnector"},
}


class PeerError(Exception):
    """The peer pipeline could not be installed, started or driven."""


def jars() -> Path:
    """The worker's classpath and plugin directories, resolved once per pom version."""
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:12]
    home = TOOLS / f"peers-{digest}"
    if (home / ".complete").exists():
        return home
    mvn = shutil.which("mvn")
    if not mvn:
        raise PeerError("mvn not found (dev/services installs Maven with Kafka: run it first)")
    shutil.rmtree(home, ignore_errors=True)
    # A plugin directory keeps everything its connector depends on, its own kafka-clients too:
    # Debezium 3.6 uses a utility class that kafka-clients 4.4 (the worker's) no longer has, and
    # Connect loads a plugin's classes from its own directory first.
    for profile in ("worker", *PLUGINS):
        out = home / ("worker" if profile == "worker" else f"plugins/{profile}")
        cmd = [
            mvn,
            "-B",
            "-q",
            "-f",
            str(POM),
            f"-Dmaven.repo.local={TOOLS / 'm2'}",
            "-P",
            profile,
            "dependency:copy-dependencies",
            f"-DoutputDirectory={out}",
            "-DincludeScope=runtime",
        ]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=MVN_TIMEOUT, check=False)
        if res.returncode != 0:
            raise PeerError(f"mvn -P {profile} failed:\n{res.stdout[-2000:]}{res.stderr[-2000:]}")
    (home / ".complete").write_text(POM.read_text())
    return home


@dataclass
class Worker:
    """One Connect worker process (standalone mode) and its REST endpoint."""

    bootstrap: str
    port: int
    workdir: Path
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def start(self) -> float:
        """Start the JVM and wait for its REST API; returns the seconds it took."""
        home = jars()
        self.workdir.mkdir(parents=True, exist_ok=True)
        props = self.workdir / "worker.properties"
        props.write_text(
            "\n".join(
                [
                    f"bootstrap.servers={self.bootstrap}",
                    "key.converter=org.apache.kafka.connect.json.JsonConverter",
                    "value.converter=org.apache.kafka.connect.json.JsonConverter",
                    # No schema registry here: JSON with its schema inline, Debezium's usual
                    # setup without one (the sinks need the schema for dates and decimals).
                    "key.converter.schemas.enable=true",
                    "value.converter.schemas.enable=true",
                    f"offset.storage.file.filename={self.workdir / 'offsets'}",
                    "offset.flush.interval.ms=1000",
                    f"plugin.path={home / 'plugins'}",
                    f"listeners=http://127.0.0.1:{self.port}",
                    "",
                ]
            )
        )
        log = (self.workdir / "connect.log").open("wb")
        started = time.monotonic()
        self.popen = subprocess.Popen(
            [
                "java",
                "-Xms256m",
                "-Xmx1g",
                "-XX:+UseG1GC",
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={LOG4J}",
                "-cp",
                f"{home / 'worker'}/*",
                "org.apache.kafka.connect.cli.ConnectStandalone",
                str(props),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        while time.monotonic() - started < START_TIMEOUT:
            if self.popen.poll() is not None:
                raise PeerError(f"the Connect worker exited:\n{self.tail()}")
            with contextlib.suppress(OSError, PeerError):
                self.request("GET", "/connectors")
                return time.monotonic() - started
            time.sleep(0.5)
        raise PeerError(
            f"the Connect worker did not answer in {START_TIMEOUT:.0f} s:\n{self.tail()}"
        )

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(60)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(30)

    def tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            text = (self.workdir / "connect.log").read_text(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return ""

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                text = resp.read().decode()
        except urllib.error.HTTPError as exc:
            raise PeerError(
                f"{method} {path}: HTTP {exc.code} {exc.read().decode()[:500]}"
            ) from None
        return json.loads(text) if text else None

    def create(self, name: str, config: dict[str, str]) -> None:
        self.request("POST", "/connectors", {"name": name, "config": config})

    def delete(self, name: str) -> None:
        with contextlib.suppress(PeerError):
            self.request("DELETE", f"/connectors/{name}")

    def failed(self, name: str) -> str | None:
        """The trace of a failed connector or task, if one failed."""
        try:
            status = self.request("GET", f"/connectors/{name}/status")
        except PeerError:
            return None
        for part in [status.get("connector", {}), *status.get("tasks", [])]:
            if part.get("state") == "FAILED":
                return str(part.get("trace", ""))[:3000]
        return None


def source_config(
    *,
    host: str,
    port: int,
    user: str,
    password: str,
    dbname: str,
    table: str,
    name: str,
    decimal128: bool,
) -> dict[str, str]:
    """Debezium's PostgreSQL connector: snapshot, then pgoutput, one 1-partition topic."""
    return {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "database.hostname": host,
        "database.port": str(port),
        "database.user": user,
        "database.password": password,
        "database.dbname": dbname,
        "topic.prefix": name,
        "plugin.name": "pgoutput",
        "slot.name": name,
        "publication.name": name,
        "publication.autocreate.mode": "filtered",
        "table.include.list": table,
        "snapshot.mode": "initial",
        # The same document values as relmig on this target: exact numbers as Decimal128
        # (Connect's Decimal) where the target stores it, as strings where it does not
        # (FerretDB v1); timestamps as BSON dates (Connect's Timestamp, millisecond precision).
        "decimal.handling.mode": "precise" if decimal128 else "string",
        "time.precision.mode": "connect",
        "topic.creation.default.partitions": "1",
        "topic.creation.default.replication.factor": "1",
        "tasks.max": "1",
    }


def sink_config(
    kind: str, *, topic: str, mongo_uri: str, database: str, collection: str, batch: int | None
) -> dict[str, str]:
    """`batch`: writes per bulk command (None: the connector's default)."""
    if kind == "mongo-kafka":
        config = {"connection.uri": mongo_uri, "database": database, "collection": collection}
        batch_key = "max.batch.size"
    else:
        config = {
            "mongodb.connection.string": mongo_uri,
            "sink.database": database,
            "collection.name.format": collection,
        }
        batch_key = "batch.size"
    config.update(SINKS[kind])
    config.update({"topics": topic, "tasks.max": "1"})
    if batch is not None:
        config[batch_key] = str(batch)
    return config
