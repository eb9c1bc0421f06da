"""`relmig serve`: the web UI and REST API, with jobs running inside the server process."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import typer

from relmig import __version__
from relmig.cli.common import TARGET_ENV, console, err_console, user_errors
from relmig.cli.running import STOP_TIMEOUT
from relmig.errors import RelmigError


@user_errors
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8278, min=1, max=65535, help="Port to listen on."),
    token: str = typer.Option(
        None,
        envvar="RELMIG_SERVER_TOKEN",  # relmig.server.auth.TOKEN_ENV, which imports FastAPI
        help="Auth token every API request must carry (prefer the environment variable or "
        "--token-file: a command-line value is visible to other local users).",
        show_default=False,
    ),
    token_file: Path = typer.Option(None, help="Read the auth token from this file."),
    no_token: bool = typer.Option(
        False,
        "--no-token",
        help="Serve without a token (loopback only): any local user or web page's request "
        "can drive it then.",
    ),
    target: str = typer.Option(
        None, "--target", envvar=TARGET_ENV, help="Default MongoDB URI for new jobs."
    ),
    stop_timeout: float = STOP_TIMEOUT,
    resume_paused: bool = typer.Option(
        False, "--resume-paused", help="Resume the jobs the last shutdown paused."
    ),
    allow_env: list[str] = typer.Option(
        [],
        "--allow-env",
        help="A variable a connection may take its password from, besides RELMIG_* (repeat).",
    ),
    tls_cert: Path = typer.Option(None, "--tls-cert", help="Serve HTTPS with this certificate."),
    tls_key: Path = typer.Option(None, "--tls-key", help="The certificate's private key."),
) -> None:
    """Serve the web UI and the REST API (/api/v1). Other addresses than loopback need a token.
    SIGTERM or Ctrl-C pauses the jobs it runs before it exits."""
    # Imported here so that the other commands do not pay for the web stack.
    import uvicorn

    from relmig.runtime.store import relmig_home
    from relmig.server.auth import (
        TOKEN_FILE,
        check_bind,
        generated_token,
        is_loopback,
        read_token,
    )

    token = read_token(token, token_file)
    generated = token is None and not no_token
    if generated:
        token = generated_token(relmig_home())
    check_bind(host, token)
    if token is None:
        err_console.print(
            "[yellow]warning:[/] serving without a token (--no-token): any process of any user "
            "on this machine can read and change your migrations",
            highlight=False,
        )
    if (tls_cert is None) != (tls_key is None):
        raise RelmigError("--tls-cert and --tls-key go together")
    for path in (tls_cert, tls_key):
        if path is not None and not path.is_file():
            raise RelmigError(f"no such file: {path}")
    if tls_cert is None and not is_loopback(host):
        err_console.print(
            f"[yellow]warning:[/] serving on {host} without TLS: the token, the passwords you "
            "enter and your data cross the network in clear; pass --tls-cert and --tls-key",
            highlight=False,
        )

    from relmig.server.app import create_app
    from relmig.server.context import ServerConfig

    config = ServerConfig(
        host=host,
        port=port,
        token=token,
        target_uri=target,
        stop_timeout=stop_timeout,
        resume_paused=resume_paused,
        allow_env=tuple(allow_env),
    )
    app = create_app(config)
    shown = f"[{host}]" if ":" in host else host
    scheme = "https" if tls_cert is not None else "http"
    console.print(
        f"relmig {__version__} serving the UI on {scheme}://{shown}:{port}/ "
        f"(API: /api/v1, OpenAPI: /api/v1/openapi.json)"
        + ("; API requests need the token" if token else ""),
        soft_wrap=True,
    )
    if generated:
        console.print(
            f"Sign in with: {scheme}://{shown}:{port}/?token={token} (the token is kept in "
            f"{relmig_home() / TOKEN_FILE})",
            soft_wrap=True,
            highlight=False,
        )

    class Server(uvicorn.Server):
        """Remembers which signal stopped it (the paused jobs record it), and exits 0 once
        its shutdown paused them: uvicorn raises the signal again after its shutdown, which
        would end the process as killed by it."""

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            app.state.stop_signal = signal.Signals(sig).name
            super().handle_exit(sig, frame)

        @contextmanager
        def capture_signals(self) -> Iterator[None]:
            with super().capture_signals():
                yield
                self._captured_signals.clear()  # handled: the jobs paused, the server stopped

    tls = {"ssl_certfile": str(tls_cert), "ssl_keyfile": str(tls_key)} if tls_cert else {}
    Server(uvicorn.Config(app, host=host, port=port, log_level="info", **tls)).run()
