"""Shared fixtures: where the local dev services (dev/services) listen and how to log in.

Settings come from dev/ports.env; an environment variable of the same name wins.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from faults import Toxiproxy
from sharing import (  # noqa: F401 - the hook of tests/sharing.py, how tests share servers
    pytest_runtest_protocol,
    worker_id,
)

REPO = Path(__file__).resolve().parent.parent


def dev_settings() -> dict[str, str]:
    """dev/ports.env, with same-named environment variables winning."""
    settings: dict[str, str] = {}
    for raw in (REPO / "dev" / "ports.env").read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            settings[key.strip()] = os.environ.get(key.strip()) or value.strip()
    return settings


def dev_dir() -> Path:
    """Data, pid files and logs of dev/services (RELMIG_DEV_DIR, default <repo>/.dev)."""
    return Path(os.environ.get("RELMIG_DEV_DIR") or REPO / ".dev")


def kafka_bootstrap_servers(settings: dict[str, str]) -> str:
    """Every node of the running cluster, so clients still bootstrap when one node is down."""
    if os.environ.get("RELMIG_KAFKA_BOOTSTRAP"):
        return os.environ["RELMIG_KAFKA_BOOTSTRAP"]
    try:
        nodes = int((dev_dir() / "kafka" / "nodes").read_text())
    except (OSError, ValueError):
        nodes = 1
    base = int(settings["RELMIG_KAFKA_BROKER_PORT"])
    return ",".join(f"{settings['RELMIG_HOST']}:{base + i}" for i in range(nodes))


@pytest.fixture(scope="session")
def services_settings() -> dict[str, str]:
    return dev_settings()


@pytest.fixture(scope="session")
def services_dir() -> Path:
    """dev/services' data, run (pid files, sockets) and logs directory."""
    return dev_dir()


@pytest.fixture(scope="session")
def pg_dsn(services_settings) -> str:
    """libpq URI of the `relmig` role (LOGIN REPLICATION CREATEDB, owns database `relmig`)."""
    s = services_settings
    return (
        f"postgresql://{s['RELMIG_PG_USER']}:{s['RELMIG_PG_PASSWORD']}@{s['RELMIG_HOST']}:"
        f"{s['RELMIG_PG_PORT']}/{s['RELMIG_PG_DB']}?connect_timeout=10"
    )


@pytest.fixture(scope="session")
def pg_admin_dsn(services_settings) -> str:
    """libpq URI of a superuser (`relmig_admin`), for tests that need one."""
    s = services_settings
    return (
        f"postgresql://{s['RELMIG_PG_ADMIN_USER']}:{s['RELMIG_PG_ADMIN_PASSWORD']}@"
        f"{s['RELMIG_HOST']}:{s['RELMIG_PG_PORT']}/{s['RELMIG_PG_DB']}?connect_timeout=10"
    )


@pytest.fixture(scope="session")
def mysql_params(services_settings) -> dict:
    """pymysql.connect() keyword arguments for the `relmig` account (ALL PRIVILEGES ON *.*)."""
    s = services_settings
    return {
        "host": s["RELMIG_HOST"],
        "port": int(s["RELMIG_MYSQL_PORT"]),
        "user": s["RELMIG_MYSQL_USER"],
        "password": s["RELMIG_MYSQL_PASSWORD"],
        "database": s["RELMIG_MYSQL_DB"],
        "connect_timeout": 10,
    }


# The MongoDB wire targets of dev/services: FerretDB v1, and mongo-java-server (mongo2), which
# takes the paths FerretDB never does (Decimal128, ReplaceOne upserts, nested arrays, dotted keys).
TARGET_PORTS = {"ferretdb": "RELMIG_MONGO_PORT", "mongo2": "RELMIG_MONGO2_PORT"}


def target_uri(settings: dict[str, str], target: str) -> str:
    return f"mongodb://{settings['RELMIG_HOST']}:{settings[TARGET_PORTS[target]]}/"


@pytest.fixture(scope="session")
def mongo_uri(services_settings) -> str:
    """FerretDB. A suite that must pass on every target overrides this with any_target_uri."""
    return target_uri(services_settings, "ferretdb")


@pytest.fixture(scope="session")
def target_uris(services_settings) -> dict[str, str]:
    """Every target's URI by name, for a test that picks its own."""
    return {name: target_uri(services_settings, name) for name in TARGET_PORTS}


@pytest.fixture(scope="session", params=list(TARGET_PORTS))
def any_target_uri(request: pytest.FixtureRequest, services_settings) -> str:
    """Each target in turn (the test id names it)."""
    return target_uri(services_settings, request.param)


@pytest.fixture(scope="session")
def kafka_bootstrap(services_settings) -> str:
    return kafka_bootstrap_servers(services_settings)


@pytest.fixture(scope="session")
def toxiproxy(services_settings) -> Iterator[Toxiproxy]:
    """The fault proxy of `dev/services up --faults`, checked once."""
    s = services_settings
    api = Toxiproxy(f"http://{s['RELMIG_HOST']}:{s['RELMIG_TOXIPROXY_PORT']}")
    api.version()  # a clear error now if it is not running
    yield api
    api.close()


@pytest.fixture(scope="session")
def own_links(toxiproxy: Toxiproxy) -> Iterator[Toxiproxy]:
    """Under xdist, this worker's own copies of the server links (tests/sharing.py)."""
    if not worker_id():
        yield toxiproxy
        return
    api = toxiproxy.own_links(worker_id())
    yield api
    api.close()


@pytest.fixture
def faults(request: pytest.FixtureRequest, toxiproxy: Toxiproxy) -> Iterator[Toxiproxy]:
    """Toxiproxy for one test: its proxies enabled and free of toxics again afterwards. The
    server links are the worker's own copies, or dev/services' proxies themselves for a test
    marked `disrupts("fault-proxies")`; Kafka's links are shared (tests/sharing.py)."""
    disrupts = {m.args[0] for m in request.node.iter_markers("disrupts")}
    api = toxiproxy if "fault-proxies" in disrupts else request.getfixturevalue("own_links")

    def reset() -> None:
        api.reset()
        if "kafka-proxies" in disrupts:
            for proxy in api.kafka_proxies():
                proxy.clear()

    reset()
    yield api
    reset()
