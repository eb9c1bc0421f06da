"""The `relmig` command: one Typer app, one sub-module per command group."""

from __future__ import annotations

import typer

from relmig import __version__

app = typer.Typer(
    name="relmig",
    help="Migrate relational databases into MongoDB and keep them in sync until cutover.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"relmig {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Migrate relational databases into MongoDB and keep them in sync until cutover."""


def main() -> None:
    app()
