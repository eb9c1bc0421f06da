"""The `relmig` command: one Typer app; each command lives with its group's module."""

from __future__ import annotations

import typer

from relmig import __version__
from relmig.cli import (
    convert_cmds,
    job_cmds,
    kafka_cmds,
    project_cmds,
    server_cmds,
    sync_cmds,
    update_cmds,  # noqa: F401 - registers `jobs update`
)

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


app.command("import")(project_cmds.import_schema)
app.command("refresh")(project_cmds.refresh)
app.command("preview")(project_cmds.preview)
app.command("analyze")(project_cmds.analyze_cmd)
app.command("snapshot")(job_cmds.snapshot)
app.command("verify")(job_cmds.verify_cmd)
app.command("convert")(convert_cmds.convert_cmd)
app.command("check")(sync_cmds.check)
app.command("sync")(sync_cmds.sync)
app.add_typer(job_cmds.jobs_app, name="jobs")
app.command("serve")(server_cmds.serve)
app.command("worker")(kafka_cmds.worker)


def main() -> None:
    app()
