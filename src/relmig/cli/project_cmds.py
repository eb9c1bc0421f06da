"""Commands that create and inspect project files."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from relmig.cli.common import (
    TARGET_ENV,
    connected_source,
    connected_target,
    console,
    err_console,
    source_password,
    user_errors,
    warn_password_in_argument,
)
from relmig.cli.output import AS_JSON, block, count, emit_json, seconds, size, table
from relmig.errors import RelmigError

# SQLAlchemy, pymongo's bson, the project model and the source are imported by the commands
# that use them (relmig.cli.common says why).
if TYPE_CHECKING:
    from relmig.project.casing import Casing
    from relmig.project.initial import InitialMapping
    from relmig.project.model import Relationship, SourceSettings
    from relmig.schema.infer import Proposal

DIALECTS = {
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
}


def parse_source_url(url: str, password_env: str) -> tuple[SourceSettings, str | None]:
    """`postgresql://user[:password]@host[:port]/database?schema=a,b&sslmode=…`, TLS options in
    each dialect's own spelling (relmig.source.tls); the password is not kept."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from relmig.project.model import SourceSettings
    from relmig.project.validate import source_problems
    from relmig.source.tls import tls_from_url, url_options

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise RelmigError(  # not echoed: it may hold a password
            "the source is not a URL (expected postgresql://user@host:port/db)"
        ) from None
    dialect = DIALECTS.get(parsed.get_backend_name())
    if dialect is None:
        raise RelmigError(
            f"unsupported source {parsed.get_backend_name()!r}: use postgresql or mysql"
        )
    if not parsed.database or not parsed.username:
        raise RelmigError("the source URL must name a user and a database")
    known = {"schema", *url_options(dialect)}
    unknown = sorted(set(parsed.query) - known)
    if unknown:  # never dropped: a TLS option silently left out would connect in clear
        raise RelmigError(
            f"the source URL option(s) {', '.join(unknown)} are not supported for {dialect} "
            f"(known: {', '.join(sorted(known))})"
        )
    query = {k: v if isinstance(v, str) else ",".join(v) for k, v in parsed.query.items()}
    schema_list = [s for s in query.pop("schema", "").split(",") if s]
    auth = {"require_auth": query.pop("require_auth")} if "require_auth" in query else {}
    settings = SourceSettings(
        dialect=dialect,  # type: ignore[arg-type]
        host=parsed.host or "127.0.0.1",
        port=parsed.port,
        database=parsed.database,
        user=parsed.username,
        password_env=password_env,
        schemas=schema_list,
        tls=tls_from_url(dialect, query),
        **auth,
    )
    problems = source_problems(settings)
    if problems:
        raise RelmigError("the source URL: " + "; ".join(problems))
    return settings, parsed.password


@user_errors
def import_schema(
    source: str = typer.Argument(
        ..., help="Source URL, e.g. postgresql://user@host:5432/db?schema=public"
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Project file to write."),
    name: str = typer.Option(None, help="Project name (default: the database name)."),
    mapping: str = typer.Option(
        "recommended", help="Initial mapping: recommended, one-to-one or empty."
    ),
    casing: str = typer.Option(
        "keep", help="Field casing: keep, camel, pascal, snake, lower, upper."
    ),
    tables: list[str] = typer.Option(
        None, "--table", help="Only these tables (schema.table); repeatable."
    ),
    password_env: str = typer.Option(
        "RELMIG_SOURCE_PASSWORD", help="Environment variable holding the password."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing project file."),
    as_json: bool = AS_JSON,
    infer: bool = typer.Option(
        False,
        "--infer-relationships",
        help="Propose relationships the schema does not declare (from column names and data).",
    ),
    accept: list[str] = typer.Option(
        None,
        "--accept",
        help="Proposed relationships to add (a name, or 'all'); repeatable. Without it, each "
        "is asked for on a terminal, and none is added otherwise.",
    ),
) -> None:
    """Import a live schema into a new project file with an initial mapping."""
    from relmig.project.file import save_project
    from relmig.project.initial import initial_collections
    from relmig.project.model import Project
    from relmig.project.validate import warnings
    from relmig.schema.infer import propose
    from relmig.schema.introspect import import_tables
    from relmig.source.connect import open_source

    if mapping not in ("recommended", "one-to-one", "empty"):
        raise RelmigError(f"--mapping must be recommended, one-to-one or empty, not {mapping!r}")
    if casing not in ("keep", "camel", "pascal", "snake", "lower", "upper"):
        raise RelmigError(
            f"--casing must be keep, camel, pascal, snake, lower or upper, not {casing!r}"
        )
    if output.exists() and not force:
        raise RelmigError(f"{output} already exists (use --force to overwrite)")
    settings, url_password = parse_source_url(source, password_env)
    if url_password is not None:
        warn_password_in_argument("the source URL", password_env)
    password = url_password if url_password is not None else source_password(settings)
    found = import_tables(settings, password, only=tables or None)
    if not found:
        raise RelmigError(
            f"no tables found in {settings.database} (schemas: {settings.schemas or 'default'})"
        )
    if not settings.schemas:
        settings.schemas = sorted({t.schema_ for t in found})
    chosen_mapping: InitialMapping = mapping  # type: ignore[assignment]
    chosen_casing: Casing = casing  # type: ignore[assignment]
    relationships: list[Relationship] = []
    if infer:
        with open_source(settings, password) as source:
            shown = err_console if as_json else console  # stdout carries the JSON
            relationships = _accepted(propose(found, source), accept or [], shown)
    project = Project(
        name=name or settings.database,
        source=settings,
        tables=found,
        relationships=relationships,
        casing=chosen_casing,
    )
    # The initial mapping follows the accepted relationships as it follows declared keys.
    linked = [t.model_copy(update={"foreign_keys": project.links_of(t)}) for t in found]
    project.collections = initial_collections(linked, chosen_mapping, chosen_casing)
    save_project(project, output)
    if as_json:
        emit_json(
            {
                "output": str(output),
                "project": project.name,
                "tables": [t.id for t in found],
                "collections": [c.name for c in project.collections],
                "relationships": [r.name for r in relationships],
                "mapping": mapping,
                "casing": casing,
                "warnings": warnings(project),
            }
        )
        return
    console.print(
        f"Imported {len(found)} tables into [bold]{output}[/] with the {mapping} mapping "
        f"({len(project.collections)} collections"
        + (f", {len(relationships)} synthetic relationships" if infer else "")
        + ")."
    )
    for warning in warnings(project):
        err_console.print(f"warning: {warning}", highlight=False)


def _accepted(proposals: list[Proposal], accept: list[str], out: Console) -> list[Relationship]:
    """Show every proposal with its evidence; keep those accepted (never silently)."""
    if not proposals:
        out.print("No relationships to propose: no column name leads to another table.")
        return []
    listing = Table(
        "name", "child → parent", "cardinality", "evidence", title="Proposed relationships"
    )
    for p in proposals:
        r = p.relationship
        listing.add_row(
            r.name,
            f"{r.child.table}({', '.join(r.child.columns)}) → "
            f"{r.parent.table}({', '.join(r.parent.columns)})",
            r.cardinality,
            p.evidence,
        )
    out.print(listing)
    names = {p.relationship.name for p in proposals}
    unknown = set(accept) - names - {"all"}
    if unknown:
        raise RelmigError(f"--accept names no proposal: {', '.join(sorted(unknown))}")
    if accept:
        return [
            p.relationship for p in proposals if "all" in accept or p.relationship.name in accept
        ]
    if not sys.stdin.isatty():
        out.print("None added: pass --accept NAME (or --accept all) to add them.")
        return []
    return [
        p.relationship
        for p in proposals
        if typer.confirm(f"Add {p.relationship.name} ({p.evidence})?", default=True)
    ]


@user_errors
def refresh(
    project_file: Path = typer.Argument(..., help="Project file."),
    output: Path = typer.Option(
        None, "--output", "-o", help="Where to write it (default: over the project file)."
    ),
    as_json: bool = AS_JSON,
) -> None:
    """Read the project's tables again from the source, keeping its rules: a column added,
    renamed or retyped there reaches the mapping (then `relmig jobs update` a running job)."""
    from relmig.project.file import load_project, save_project
    from relmig.project.refresh import refreshed

    project = load_project(project_file)
    project, changes = refreshed(project, source_password(project.source))
    save_project(project, output or project_file)
    if as_json:
        emit_json({"project": str(output or project_file), "changes": changes})
        return
    for change in changes:
        console.print(f"  {change}", highlight=False, markup=False)
    console.print(
        f"{output or project_file}: {len(changes)} change{'s' if len(changes) != 1 else ''} "
        "from the source",
        highlight=False,
    )


@user_errors
def preview(
    project_file: Path = typer.Argument(..., help="Project file."),
    collection: str = typer.Argument(None, help="Collection (default: the first)."),
    limit: int = typer.Option(1, help="How many documents."),
) -> None:
    """Print sample documents built from real source rows."""
    from bson import json_util

    from relmig.documents.builder import DocumentBuilder
    from relmig.documents.plan import compile_collection
    from relmig.project.file import load_project
    from relmig.runtime.keys import show_key

    project = load_project(project_file)
    if not project.collections:
        raise RelmigError(f"{project_file} maps no collections")
    try:
        rule = project.collection(collection) if collection else project.collections[0]
    except KeyError:
        raise RelmigError(f"{project_file} has no collection {collection!r}") from None
    with connected_source(project.source) as source:
        builder = DocumentBuilder(compile_collection(project, rule, source), source)
        page = next(iter(builder.scan(batch_size=limit)), None)
    for built in page.built if page else []:
        if built.doc is not None:
            console.print_json(json.dumps(built.doc, default=json_util.default, ensure_ascii=False))
        for p in built.problems:
            console.print(f"[yellow]{p.table} key {show_key(p.key)} {p.field}: {p.reason}[/]")


@user_errors
def analyze_cmd(
    project_file: Path = typer.Argument(..., help="Project file."),
    target: str = typer.Option(
        None, "--target", "-t", help="MongoDB URI: what it cannot store is flagged too."
    ),
    database: str = typer.Option(
        None, "--database", "-d", help="Target database (default: the project name)."
    ),
    sample: int = typer.Option(200, "--sample", min=1, help="Documents built per collection."),
    as_json: bool = AS_JSON,
) -> None:
    """Before any job: keys, indexes, array and document sizes, unstorable values, renames and
    an estimated snapshot time, measured on the source."""
    from relmig.analysis.report import analyze
    from relmig.mongo.names import database_name_for
    from relmig.project.file import load_project
    from relmig.schema.introspect import import_tables

    project = load_project(project_file)
    uri = target or os.environ.get(TARGET_ENV)
    profile = None
    if uri:
        with connected_target(uri, database or database_name_for(project.name)) as tgt:
            profile = tgt.profile
    with connected_source(project.source) as source:
        live = import_tables(project.source, source.password, only=[t.id for t in project.tables])
        report = analyze(project, source, profile, live, sample)
    if as_json:
        emit_json(report.as_dict())
        return
    print_analysis(report.as_dict())


def print_analysis(report: dict[str, Any]) -> None:
    rows = [
        [
            c["name"],
            count(c["rows"]),
            size(c["size_p50"]),
            size(c["size_p99"]),
            size(c["size_max"]),
            seconds(c["estimated_seconds"]),
        ]
        for c in report["collections"]
    ]
    table(("collection", "rows", "doc p50", "doc p99", "doc max", "snapshot"), rows, "Collections")
    rows = [
        [a["field"], count(a["parents"]), count(a["p99"]), count(a["max"]), count(a["limit"])]
        for a in report["arrays"]
    ]
    if rows:
        table(("array", "parents", "p99", "max", "limit"), rows, "Embedded arrays")
    typer.echo(
        f"Estimated snapshot time (source side): {seconds(report['snapshot_seconds'])}; "
        f"analysis took {seconds(report['seconds'])}."
    )
    findings = report["findings"]
    typer.echo(f"Findings ({len(findings)}):")
    for f in findings:
        block(f"- {f['severity'].upper()} {f['kind']}: {f['subject']}", f["message"])
        if f["fix"]:
            typer.echo(f"    fix: {f['fix']}")
