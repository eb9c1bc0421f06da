"""`relmig convert`: SQL over the source schema → MongoDB queries over the mapped collections."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from relmig.cli.common import connected_source, connected_target, console, user_errors
from relmig.cli.output import AS_JSON, emit_json
from relmig.errors import RelmigError

if TYPE_CHECKING:
    from relmig.queries.answers import Answer


@user_errors
def convert_cmd(
    project_file: Path = typer.Argument(..., help="Project file."),
    query: str = typer.Argument(None, help="One SELECT (or --file, or --view)."),
    file: Path = typer.Option(
        None, "--file", "-f", help="A file of SQL statements separated by semicolons."
    ),
    view: str = typer.Option(None, "--view", help="Convert this view's definition."),
    lang: str = typer.Option("shell", "--lang", "-l", help="Output: shell (mongosh) or python."),
    target: str = typer.Option(
        None, "--target", "-t", help="MongoDB URI: convert for what this target runs."
    ),
    database: str = typer.Option(
        None, "--database", "-d", help="Target database (default: the project name)."
    ),
    verify: bool = typer.Option(
        False, "--verify", help="Run the SQL and the conversion, and compare (needs --target)."
    ),
    as_json: bool = AS_JSON,
) -> None:
    """Convert SQL queries into MongoDB queries from the mapping; exit 1 if any is refused
    (or, with --verify, answers differently)."""
    from relmig.mongo.names import database_name_for
    from relmig.project.file import load_project
    from relmig.queries.answers import answer, statements_of, view_sql
    from relmig.queries.render import LANGUAGES

    if lang not in LANGUAGES:
        raise RelmigError(f"unknown --lang {lang!r} (one of: {', '.join(LANGUAGES)})")
    if sum(x is not None for x in (query, file, view)) != 1:
        raise RelmigError("give one query, or --file FILE, or --view NAME")
    if verify and not target:
        raise RelmigError("--verify runs the conversion on a target: give --target")
    project = load_project(project_file)
    if not project.collections:
        raise RelmigError(f"{project_file} maps no collections: nothing to query")
    with connected_source(project.source) as source:
        if file is not None:
            try:
                text = file.read_text(encoding="utf-8")
            except OSError as exc:
                raise RelmigError(f"cannot read {file}: {exc.strerror}") from None
        else:
            text = view_sql(source, view) if view is not None else query
        statements = statements_of(text, project.source.dialect)
        if not statements:
            raise RelmigError("no SQL statement to convert")
        if target:
            with connected_target(target, database or database_name_for(project.name)) as tgt:
                answers = answer(project, statements, source, tgt, verify=verify)
        else:
            answers = answer(project, statements, source)
    if as_json:
        emit_json([a.as_dict(lang) for a in answers])
    else:
        _print(answers, lang)
    if not all(a.ok for a in answers):
        raise typer.Exit(1)


def _print(answers: list[Answer], lang: str) -> None:
    from relmig.queries.render import render

    for a in answers:
        if a.conversion is None:
            # The SQL and messages quoting it are the user's text: never read as markup.
            console.print(f"-- {a.sql}", style="dim", markup=False, highlight=False, soft_wrap=True)
            console.print(f"{a.refused}\n", style="red", markup=False, highlight=False)
            continue
        console.print(render(a.conversion, lang), highlight=False, markup=False, soft_wrap=True)
        if a.checked is not None:
            c = a.checked
            if c.equal:
                console.print(f"[green]equal[/]: {c.sql_rows:,} rows on both sides\n")
            else:
                console.print(f"[red]DIFFERENT[/]: {c.sql_rows:,} rows from SQL, {c.mongo_rows:,}")
                for d in c.differences:
                    console.print(f"  {d}", highlight=False, markup=False)
                console.print()
        elif a.unchecked:
            console.print(f"not checked: {a.unchecked}\n", style="yellow", markup=False)
