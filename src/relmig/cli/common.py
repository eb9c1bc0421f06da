"""What every command shares: the console, error reporting and how to reach source and target."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console

from relmig.errors import RelmigError

# The commands' dependencies (SQLAlchemy, pymongo, pydantic) are imported where they are used:
# `relmig --help` and the commands that need none of them do not pay for them.
if TYPE_CHECKING:
    from relmig.mongo.writer import MongoTarget
    from relmig.project.model import SourceSettings
    from relmig.source.sql import SqlSource

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

TARGET_ENV = "RELMIG_TARGET_URI"


def user_errors(func: F) -> F:
    """Turn RelmigError into a clear message and exit code 2, never a traceback. Under
    `--json` the message is also a JSON object on stdout (`{"error": …}`), so a script that
    parses the output gets an answer either way."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RelmigError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
            if kwargs.get("as_json"):
                from relmig.cli.output import emit_json  # output imports this module

                emit_json({"error": str(exc)})
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def source_password(settings: SourceSettings) -> str | None:
    """From the environment variable the project names, else a prompt on a terminal."""
    value = os.environ.get(settings.password_env)
    if value is None and sys.stdin.isatty():
        value = typer.prompt(
            f"Password for {settings.user}@{settings.host} ({settings.password_env} is not set)",
            hide_input=True,
            default="",
            show_default=False,
        )
    return value


@contextmanager
def connected_source(settings: SourceSettings) -> Iterator[SqlSource]:
    from relmig.source.connect import open_source

    source = open_source(settings, source_password(settings))
    try:
        source.conn  # noqa: B018 - connect now, so a bad source fails before any work
        yield source
    finally:
        source.close()


def target_uri(uri: str | None) -> str:
    from relmig.mongo.writer import has_password

    if uri and has_password(uri):
        warn_password_in_argument("--target", TARGET_ENV)
    uri = uri or os.environ.get(TARGET_ENV)
    if not uri:
        raise RelmigError(f"no target: pass --target mongodb://… or set {TARGET_ENV}")
    return uri


def warn_password_in_argument(where: str, variable: str) -> None:
    """A password on the command line is visible to every local user (ps, /proc) and stays in
    the shell's history."""
    err_console.print(
        f"[yellow]warning:[/] the password in {where} is visible to other users of this machine "
        f"(ps) and in your shell history; set {variable} instead (from a file or a prompt: "
        f"read -s {variable}; export {variable})",
        highlight=False,
    )


@contextmanager
def connected_target(uri: str | None, database: str) -> Iterator[MongoTarget]:
    from relmig.mongo.writer import MongoTarget

    target = MongoTarget(target_uri(uri), database)
    try:
        yield target
    finally:
        target.close()
