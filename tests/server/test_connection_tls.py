"""A connection's TLS settings through the API (issue 29 §7): saved, shown, checked by the one
validator, used by every request that connects, and a stored password does not follow a change
of them unless given again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.services


@pytest.fixture
def cert_connection(services_settings, services_dir: Path, server_sample) -> dict[str, Any]:
    """The sample database, as the account that needs TLS and a client certificate."""
    tls = services_dir / "tls"
    return {
        **server_sample["connection"],
        "name": "northwind-tls",
        "host": "localhost",
        "user": services_settings["RELMIG_PG_CERT_USER"],
        "password": services_settings["RELMIG_PG_CERT_PASSWORD"],
        "tls": {
            "mode": "verify-full",
            "ca_file": str(tls / "ca.pem"),
            "cert_file": str(tls / "client.pem"),
            "key_file": str(tls / "client.key"),
        },
    }


def test_a_connection_with_tls_is_saved_shown_and_used(
    client: TestClient, cert_connection: dict[str, Any]
) -> None:
    tested = client.post("/api/v1/connections/test", json=cert_connection).json()
    assert tested["ok"], tested
    made = client.post("/api/v1/connections", json=cert_connection)
    assert made.status_code == 201, made.text
    conn = made.json()
    assert conn["tls"] == {**cert_connection["tls"]}
    assert client.get(f"/api/v1/connections/{conn['id']}").json()["tls"]["mode"] == "verify-full"
    assert client.post(f"/api/v1/connections/{conn['id']}/test").json()["ok"]
    tables = client.get(f"/api/v1/connections/{conn['id']}/tables")
    assert tables.status_code == 200 and tables.json(), tables.text

    # Without the client certificate the account is refused, and the test says why.
    tls = {k: v for k, v in cert_connection["tls"].items() if k not in ("cert_file", "key_file")}
    refused = client.post("/api/v1/connections/test", json={**cert_connection, "tls": tls}).json()
    assert not refused["ok"] and "client certificate" in refused["message"]


def test_a_tls_change_asks_for_the_stored_password_again(
    client: TestClient, cert_connection: dict[str, Any]
) -> None:
    conn = client.post("/api/v1/connections", json=cert_connection).json()
    assert conn["password"] == "stored"
    weaker = client.patch(f"/api/v1/connections/{conn['id']}", json={"tls": {"mode": "require"}})
    assert weaker.status_code == 200, weaker.text
    assert weaker.json()["password"] == "none"  # it goes nowhere it was not given for


@pytest.mark.parametrize(
    ("tls", "message"),
    [
        ({"ca_file": "/ca.pem"}, "source.tls.ca_file: checks nothing with mode (unset)"),
        ({"mode": "verify-full", "cert_file": "/c.pem"}, "needs both cert_file and key_file"),
        ({"mode": "sometimes"}, "mode"),
    ],
)
def test_tls_settings_the_project_file_refuses_are_refused_here_too(
    client: TestClient, cert_connection: dict[str, Any], tls: dict[str, str], message: str
) -> None:
    made = client.post("/api/v1/connections", json={**cert_connection, "tls": tls})
    assert made.status_code == 422 and message in made.text, made.text
    assert client.get("/api/v1/connections").json() == []
