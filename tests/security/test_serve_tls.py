"""`relmig serve --tls-cert/--tls-key` (issue 29 §3): the UI and API over HTTPS with a
certificate from a throwaway CA (trustme); a client that trusts another CA, or speaks plain
HTTP, gets nothing; a server listening beyond loopback without TLS says what that exposes."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import trustme


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "relmig.cli", "serve", *args],
        env={**os.environ, "RELMIG_HOME": str(tmp_path / "home"), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def until_up(url: str, verify: ssl.SSLContext | bool, process: subprocess.Popen) -> httpx.Response:
    deadline = time.monotonic() + 60
    while True:
        try:
            return httpx.get(url, verify=verify, timeout=5)
        except httpx.ConnectError:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline
            time.sleep(0.1)


def test_serve_over_https_with_a_certificate(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    port = free_port()
    process = serve(
        tmp_path, "--port", str(port), "--tls-cert", str(cert_file), "--tls-key", str(key_file)
    )
    try:
        trusted = ssl.create_default_context()
        ca.configure_trust(trusted)
        answer = until_up(f"https://127.0.0.1:{port}/healthz", trusted, process)
        assert answer.json() == {"status": "ok"}
        about = f"https://127.0.0.1:{port}/api/v1/about"
        assert httpx.get(about, verify=trusted).status_code == 401  # its generated token
        token = (tmp_path / "home" / "server.token").read_text().strip()
        signed = httpx.get(about, verify=trusted, headers={"Authorization": f"Bearer {token}"})
        assert signed.status_code == 200
        other = ssl.create_default_context()
        trustme.CA().configure_trust(other)
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"https://127.0.0.1:{port}/healthz", verify=other)
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    finally:
        process.terminate()
        out = process.communicate(timeout=30)[0].decode()
    assert f"serving the UI on https://127.0.0.1:{port}/" in " ".join(out.split())


def test_beyond_loopback_without_tls_says_what_it_exposes(tmp_path: Path) -> None:
    port = free_port()
    process = serve(
        tmp_path,
        "--host",
        "0.0.0.0",
        "--port",
        str(port),
        env={"RELMIG_SERVER_TOKEN": "a-token-of-at-least-16-chars"},
    )
    try:
        until_up(f"http://127.0.0.1:{port}/healthz", False, process)
    finally:
        process.terminate()
        out = " ".join(process.communicate(timeout=30)[0].decode().split())
    assert "serving on 0.0.0.0 without TLS: the token, the passwords you enter" in out
    refused = subprocess.run(
        [sys.executable, "-m", "relmig.cli", "serve", "--tls-cert", str(tmp_path / "none.pem")],
        capture_output=True,
        text=True,
        env={**os.environ, "RELMIG_HOME": str(tmp_path / "home")},
        timeout=60,
    )
    assert refused.returncode == 2 and "--tls-cert and --tls-key go together" in refused.stderr
