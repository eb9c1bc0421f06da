"""Fixtures for the server tests: a sample database of their own, an app on a fresh state store.

The sample database has its own name, so these tests never race the snapshot tests' copy, and a
role with a password found nowhere else, so the security tests can look for it in every output.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from pymongo import MongoClient
from server_helpers import SAMPLE_DB, SECRET, SECRET_ROLE, TABLES, drop_slots, stop_jobs

from relmig.runtime.store import StateStore
from relmig.samples.load import load_postgres
from relmig.server.app import create_app
from relmig.server.context import ServerConfig


@pytest.fixture(scope="session")
def server_sample(services_settings, pg_admin_dsn: str) -> dict[str, Any]:
    """The sample database, owned by the `relmig` role, readable by a role with SECRET."""
    s = services_settings
    owner = dict(
        host=s["RELMIG_HOST"],
        port=int(s["RELMIG_PG_PORT"]),
        user=s["RELMIG_PG_USER"],
        password=s["RELMIG_PG_PASSWORD"],
    )
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {SAMPLE_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {SAMPLE_DB} OWNER {s['RELMIG_PG_USER']}")
        conn.execute(f"DROP ROLE IF EXISTS {SECRET_ROLE}")
        conn.execute(f"CREATE ROLE {SECRET_ROLE} LOGIN PASSWORD '{SECRET}'")
    dsn = " ".join(f"{k}={v}" for k, v in owner.items()) + f" dbname={SAMPLE_DB}"
    load_postgres(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ANALYZE")
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {SECRET_ROLE}")
    return {
        "dsn": dsn,
        "connection": {
            "name": "northwind",
            "dialect": "postgresql",
            "host": owner["host"],
            "port": owner["port"],
            "database": SAMPLE_DB,
            "user": owner["user"],
            "password": owner["password"],
            "schemas": ["public"],
        },
    }


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """RELMIG_HOME: the vault's key file and the state database of one test."""
    monkeypatch.setenv("RELMIG_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RELMIG_STATE_URL", raising=False)
    return tmp_path / "home"


@pytest.fixture
def target_db(mongo_uri: str) -> Iterator[str]:
    name = f"t_server_{uuid.uuid4().hex[:8]}"
    yield name
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    client.drop_database(name)
    client.close()


@pytest.fixture
def client(home: Path, mongo_uri: str, server_sample: dict[str, Any]) -> Iterator[TestClient]:
    """The app as `relmig serve` builds it on loopback, jobs stopped and slots dropped after."""
    store = StateStore()
    app = create_app(ServerConfig(target_uri=mongo_uri), store=store)
    with TestClient(app, base_url="http://127.0.0.1:8278") as test_client:
        yield test_client
        stop_jobs(app.state.services.manager, server_sample["connection"]["password"])
    store.close()
    drop_slots(server_sample["dsn"])


@pytest.fixture
def connection(client: TestClient, server_sample: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/connections", json=server_sample["connection"])
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def make_project(client: TestClient, connection: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    def make(name: str = "northwind", **options: Any) -> dict[str, Any]:
        body = {"name": name, "connection_id": connection["id"], "tables": TABLES, **options}
        response = client.post("/api/v1/projects", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    return make
