"""Who may use the server, and that a source password never shows up anywhere once given."""

from __future__ import annotations

import logging
import os
import socket
import stat
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from server_helpers import SECRET, SECRET_ROLE, wait_for

from fake_servers import PostgresAsker
from relmig.runtime.store import StateStore
from relmig.server.app import create_app
from relmig.server.context import ServerConfig

API = "/api/v1"
TOKEN = "t0ken-for-the-security-tests"


def _serve(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`relmig serve` that must refuse: bounded, so a server that starts fails the test."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return subprocess.run(
        [sys.executable, "-m", "relmig.cli", "serve", "--port", str(port), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_non_loopback_without_token_refuses_to_start(home):
    env = {k: v for k, v in os.environ.items() if k != "RELMIG_SERVER_TOKEN"}
    refused = _serve("--host", "0.0.0.0", "--no-token", env=env)
    assert refused.returncode == 2
    assert "refusing to listen on 0.0.0.0 without an auth token" in refused.stderr
    short = _serve("--host", "0.0.0.0", env={**env, "RELMIG_SERVER_TOKEN": "short"})
    assert short.returncode == 2 and "at least 16 characters" in short.stderr


@pytest.fixture
def app_for(home):
    stores: list[StateStore] = []

    def make(**config: object) -> TestClient:
        stores.append(StateStore())
        return TestClient(create_app(ServerConfig(**config), store=stores[-1]))

    yield make
    for store in stores:
        store.close()


def test_exposed_server_without_token_refuses_every_request(app_for):
    client = app_for(host="0.0.0.0")
    for path in ("/", "/static/js/app.js", f"{API}/about", f"{API}/openapi.json"):
        assert client.get(path).status_code == 401, path


def test_token_is_required_on_every_api_request(app_for):
    client = app_for(host="0.0.0.0", token=TOKEN)
    for path in (f"{API}/about", f"{API}/connections", f"{API}/openapi.json", f"{API}/jobs"):
        assert client.get(path).status_code == 401, path
        wrong = client.get(path, headers={"Authorization": "Bearer not-the-token-at-all"})
        assert wrong.status_code == 401
        assert client.get(path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.post(f"{API}/connections", json={}).status_code == 401
    # The UI's files hold no data: the browser loads them to show its sign-in page.
    assert client.get("/").status_code == 200
    # Nor does the health check a service manager or a container runtime polls.
    assert client.get("/healthz").json() == {"status": "ok"}


def test_loopback_without_token_answers_localhost_only(app_for):
    client = app_for()
    assert client.get(f"{API}/about", headers={"Host": "127.0.0.1:8278"}).status_code == 200
    assert client.get(f"{API}/about", headers={"Host": "localhost:8278"}).status_code == 200
    rebound = client.get(f"{API}/about", headers={"Host": "attacker.example:8278"})
    assert rebound.status_code == 403


@pytest.mark.services
def test_passwords_never_leak(client, server_sample, home, target_db, caplog):
    caplog.set_level(logging.DEBUG)
    responses = []

    def call(method: str, path: str, **kwargs: object) -> dict:
        response = client.request(method, f"{API}{path}", **kwargs)
        responses.append(response.text)
        return response.json() if "json" in response.headers.get("content-type", "") else {}

    body = {**server_sample["connection"], "user": SECRET_ROLE, "password": SECRET}
    conn = call("POST", "/connections", json=body)
    assert conn["password"] == "stored"
    assert call("POST", f"/connections/{conn['id']}/test")["ok"] is True
    assert call("POST", "/connections/test", json={**body, "port": 1})["ok"] is False
    call("PATCH", f"/connections/{conn['id']}", json={"password": SECRET, "port": 0})
    call("POST", "/connections", json={**body, "name": "twice", "password_env": "X"})
    call("GET", f"/connections/{conn['id']}/tables")
    call("GET", "/connections")
    project = call(
        "POST",
        "/projects",
        json={"name": "secret", "connection_id": conn["id"], "tables": ["public.orders"]},
    )
    call("GET", f"/projects/{project['id']}/collections/orders/preview")
    exported = client.get(f"{API}/projects/{project['id']}/export").text
    job = call("POST", f"/projects/{project['id']}/jobs", json={"target_db": target_db})
    assert wait_for(client, job["id"], lambda j: j["status"] != "RUNNING")["status"] == "COMPLETED"
    call("GET", f"/jobs/{job['id']}")
    call("GET", "/jobs")

    assert all(SECRET not in text for text in responses)
    assert SECRET not in exported and "password_env" in exported
    assert SECRET not in caplog.text
    files = [p for p in home.rglob("*") if p.is_file()]
    assert {"state.db", "server.key"} <= {p.name for p in files}
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), path
    assert stat.S_IMODE((home / "server.key").stat().st_mode) == 0o600


@pytest.mark.services
def test_password_from_an_environment_variable(client, server_sample, monkeypatch):
    monkeypatch.setenv("RELMIG_T_SECRET_PASSWORD", SECRET)
    body = {k: v for k, v in server_sample["connection"].items() if k != "password"}
    body.update(user=SECRET_ROLE, password_env="RELMIG_T_SECRET_PASSWORD")
    conn = client.post(f"{API}/connections", json=body).json()
    assert (conn["password"], conn["password_env"]) == ("env", "RELMIG_T_SECRET_PASSWORD")
    assert client.post(f"{API}/connections/{conn['id']}/test").json()["ok"] is True
    monkeypatch.delenv("RELMIG_T_SECRET_PASSWORD")
    assert client.post(f"{API}/connections/{conn['id']}/test").json()["ok"] is False


@pytest.mark.services
def test_a_stored_password_goes_only_where_it_was_given(client, server_sample):
    asker = PostgresAsker()
    body = {**server_sample["connection"], "user": SECRET_ROLE, "password": SECRET}
    conn = client.post(f"{API}/connections", json=body).json()
    url = f"{API}/connections/{conn['id']}"
    # Renaming keeps the password; moving it elsewhere clears it unless it is given again.
    assert client.patch(url, json={"name": "renamed"}).json()["password"] == "stored"
    assert client.patch(url, json={"port": asker.port}).json()["password"] == "none"
    assert client.post(f"{url}/test").json()["ok"] is False
    # Given again with the move, it is stored; a server that asks for it in clear text still
    # gets nothing (libpq's require_auth refuses the method).
    assert client.patch(url, json={"port": asker.port, "password": SECRET}).json()["password"] == (
        "stored"
    )
    refused = client.post(f"{url}/test").json()
    asker.close()
    assert asker.clients >= 2
    assert not asker.got(SECRET)
    assert refused["ok"] is False and "password" in refused["message"]


def test_a_password_variable_must_be_one_relmig_may_read(app_for):
    client = app_for(allow_env=("APP_DB_PASSWORD",))
    client.headers["Host"] = "127.0.0.1:8278"
    base = {"name": "c", "dialect": "postgresql", "database": "d", "user": "u"}
    for name in ("HOME", "AWS_SECRET_ACCESS_KEY", "RELMIG_SERVER_TOKEN", "RELMIG_TARGET_URI"):
        refused = client.post(f"{API}/connections", json={**base, "password_env": name})
        assert refused.status_code == 422, name
        assert f"password_env {name} is not allowed" in refused.json()["detail"]
    for name in ("RELMIG_PG_PASSWORD", "APP_DB_PASSWORD"):
        made = client.post(f"{API}/connections", json={**base, "name": name, "password_env": name})
        assert made.status_code == 201, made.text
    conn = made.json()["id"]
    moved = client.patch(f"{API}/connections/{conn}", json={"password_env": "PATH"})
    assert moved.status_code == 422


def test_a_cross_site_request_changes_nothing(app_for):
    client = app_for()
    client.headers["Host"] = "127.0.0.1:8278"
    body = {"name": "c", "dialect": "postgresql", "database": "d", "user": "u"}
    for headers in (
        {"Origin": "https://attacker.example"},
        {"Origin": "null"},  # a sandboxed frame or a file
        {"Sec-Fetch-Site": "cross-site"},
    ):
        for method, path in (
            ("POST", "/connections"),
            ("POST", "/jobs/job-anything/cancel"),
            ("DELETE", "/connections/conn-x"),
        ):
            refused = client.request(method, f"{API}{path}", json=body, headers=headers)
            assert refused.status_code == 403, (headers, path)
            assert "this server's own pages" in refused.json()["detail"]
    assert client.get("/api/v1/connections").json() == []  # nothing was made
    own = {"Origin": "http://127.0.0.1:8278", "Sec-Fetch-Site": "same-origin"}
    assert client.post(f"{API}/connections", json=body, headers=own).status_code == 201
    # Reading is not refused (the browser keeps another site from reading the answer).
    shown = client.get(f"{API}/connections", headers={"Origin": "https://attacker.example"})
    assert shown.status_code == 200


def test_every_answer_tells_the_browser_what_it_may_do(app_for):
    client = app_for()
    client.headers["Host"] = "127.0.0.1:8278"
    for path in ("/", "/static/js/app.js", f"{API}/about", "/healthz", f"{API}/nope"):
        headers = client.get(path).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert "default-src 'self'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"


def test_a_body_over_the_limit_is_refused_before_it_is_read(app_for):
    client = app_for()
    client.headers["Host"] = "127.0.0.1:8278"
    big = b"{" + b" " * (17 * 2**20) + b"}"
    declared = client.post(f"{API}/connections", content=big)
    assert declared.status_code == 413
    assert declared.json()["detail"] == "the request body is over the limit of 16 MiB"

    def chunks():
        for _ in range(17):
            yield b" " * 2**20

    streamed = client.post(f"{API}/connections", content=chunks())
    assert streamed.status_code == 413


def test_the_state_store_is_private(tmp_path):
    home = tmp_path / "home"
    StateStore(f"sqlite:///{home / 'state.db'}").close()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "state.db").stat().st_mode) == 0o600


def test_the_generated_token_is_private_and_kept(tmp_path):
    from relmig.server.auth import generated_token

    home = tmp_path / "home"
    first = generated_token(home)
    assert len(first) >= 40 and generated_token(home) == first
    assert stat.S_IMODE((home / "server.token").stat().st_mode) == 0o600


def test_the_sign_in_sets_an_http_only_cookie_that_then_works(app_for):
    client = app_for(token=TOKEN)
    client.headers["Host"] = "127.0.0.1:8278"
    assert client.get(f"{API}/connections").status_code == 401
    assert client.post(f"{API}/login", json={"token": "not-the-token-at-all"}).status_code == 401
    signed = client.post(f"{API}/login", json={"token": TOKEN})
    assert signed.status_code == 200
    cookie = signed.headers["set-cookie"]
    assert "relmig_token=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert client.get(f"{API}/connections").status_code == 200  # the cookie alone
    client.post(f"{API}/logout")
    assert client.get(f"{API}/connections").status_code == 401
