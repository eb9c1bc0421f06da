"""Who may talk to the server.

- A token is required on every API request (`Authorization: Bearer`, or the HttpOnly cookie the
  UI's sign-in sets). `relmig serve` generates one at its first start (kept 0600 in
  RELMIG_HOME) and prints the URL that signs the browser in, as Jupyter does; one from the
  environment or a file wins, and `--no-token` turns it off on loopback.
- Without a token the server only listens on loopback; `relmig serve` refuses anything else, and
  an app built for a non-loopback address without a token refuses every request anyway.
- Without a token, the Host header must name loopback too: otherwise any web page could reach
  the API through a DNS name that resolves to 127.0.0.1 (DNS rebinding).

The UI's own files (HTML, JS, CSS) hold no data and are served to anyone who can connect, so the
browser can show its login page; everything under /api, and /metrics, needs the token.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from relmig.errors import RelmigError

TOKEN_ENV = "RELMIG_SERVER_TOKEN"
TOKEN_FILE = "server.token"
COOKIE = "relmig_token"
LOGIN_PATH = "/api/v1/login"
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to expose the API beyond this machine without a token."""
    if token is None and not is_loopback(host):
        raise RelmigError(
            f"refusing to listen on {host} without an auth token: anyone who can reach it could "
            f"read and change your migrations. Set {TOKEN_ENV} or pass --token-file, "
            "or listen on 127.0.0.1."
        )


def read_token(token: str | None, token_file: Path | None) -> str | None:
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise RelmigError(f"cannot read the token file {token_file}: {exc.strerror}") from None
    if token is not None and len(token) < 16:
        raise RelmigError("the auth token must be at least 16 characters long")
    return token


def generated_token(home: Path) -> str:
    """The server's own token: made at its first start, 0600 in RELMIG_HOME, kept after."""
    path = home / TOKEN_FILE
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(token + "\n")
    return token


def _host_name(header: str) -> str:
    """The host part of a Host header (`[::1]:8278`, `localhost:8278`, `127.0.0.1`)."""
    if header.startswith("["):
        return header[: header.find("]") + 1]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


Handler = Callable[[Request], Awaitable[Response]]


def guard(bind_host: str, token: str | None) -> Callable[[Request, Handler], Awaitable[Response]]:
    """The middleware that applies the rules above to every request."""
    expected = f"Bearer {token}".encode() if token else None
    exposed = not is_loopback(bind_host)

    async def middleware(request: Request, call_next: Handler) -> Response:
        if exposed and expected is None:
            return _refuse(401, "this server has no auth token configured, so it refuses requests")
        path = request.url.path
        if not (path.startswith("/api/") or path == "/metrics"):
            return await call_next(request)
        if expected is not None and path != LOGIN_PATH:  # the sign-in checks the token itself
            given = request.headers.get("authorization", "").encode()
            cookie = f"Bearer {request.cookies.get(COOKIE, '')}".encode()
            if not (
                secrets.compare_digest(given, expected) or secrets.compare_digest(cookie, expected)
            ):
                return _refuse(401, "missing or wrong token: send 'Authorization: Bearer <token>'")
        elif not is_loopback(_host_name(request.headers.get("host", ""))):
            return _refuse(403, "without an auth token the API only answers to localhost")
        return await call_next(request)

    return middleware


def _refuse(status: int, detail: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)
