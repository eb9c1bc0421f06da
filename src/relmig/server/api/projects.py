"""Projects: create from a live connection, import and export the project file, rename, delete.

A project made from a stored connection reads from that connection (an edited connection applies
to its projects); its file still never holds a password, only where one comes from.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from relmig.analysis.report import analyze
from relmig.documents.bson_names import bson_type
from relmig.mongo.names import database_name_for, database_name_problem
from relmig.mongo.writer import MongoTarget
from relmig.project.casing import Casing
from relmig.project.file import dump_project, parse_project_text
from relmig.project.initial import InitialMapping, initial_collections
from relmig.project.model import Project
from relmig.project.validate import warnings
from relmig.schema.introspect import import_tables
from relmig.server.context import Services, Svc
from relmig.server.errors import ApiError, problem_list

router = APIRouter(prefix="/projects", tags=["projects"])

Name = Annotated[str, Field(min_length=1, max_length=200)]
ACTIVE = ("RUNNING", "PAUSED", "CANCELLING")


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    connection_id: str
    schemas: list[str] = Field(default=[], description="Default: the connection's schemas.")
    tables: list[str] | None = Field(default=None, description="`schema.table` ids; all if null.")
    mapping: InitialMapping = "recommended"
    casing: Casing = "keep"


class ProjectImport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    yaml: str = Field(description="The project file's text.")
    name: Name | None = Field(default=None, description="Default: the name in the file.")
    connection_id: str | None = Field(default=None, description="Read the source through it.")


class ProjectPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    connection_id: str | None = None


class ProjectSummary(BaseModel):
    id: str
    name: str
    connection_id: str | None
    dialect: str
    database: str
    tables: int
    collections: int
    target_database: str = Field(description="The default target database name for its jobs.")
    created_at: dt.datetime
    updated_at: dt.datetime


class ProjectOut(ProjectSummary):
    project: dict[str, Any] = Field(description="The project file's content, as JSON.")
    warnings: list[dict[str, str]] = Field(
        default=[], description="What is allowed but may hurt (path, message)."
    )
    bson_types: dict[str, dict[str, str]] = Field(
        default={}, description="Per table id and column: the BSON type it becomes."
    )


def project_json(project: Project) -> dict[str, Any]:
    return project.model_dump(mode="json", by_alias=True)


def summary(row: dict[str, Any], svc: Services) -> ProjectSummary:
    return ProjectSummary(**_summary_fields(row, svc.project(row)))


def detail(row: dict[str, Any], svc: Services) -> ProjectOut:
    project = svc.project(row)
    return ProjectOut(
        **_summary_fields(row, project),
        project=project_json(project),
        warnings=problem_list(warnings(project)),
        bson_types={
            t.id: {c.name: bson_type(project.source.dialect, c.type) for c in t.columns}
            for t in project.tables
        },
    )


def _summary_fields(row: dict[str, Any], project: Project) -> dict[str, Any]:
    return {
        **{k: row[k] for k in ("id", "name", "connection_id", "created_at", "updated_at")},
        "dialect": project.source.dialect,
        "database": project.source.database,
        "tables": len(project.tables),
        "collections": len(project.collections),
        "target_database": database_name_for(project.name),
    }


def _file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name) or "project"


def active_jobs(svc: Services, project_id: str) -> list[str]:
    jobs = (svc.store.job(link["job_id"]) for link in svc.records.job_links(project_id))
    return [job["id"] for job in jobs if job is not None and job["status"] in ACTIVE]


@router.get("")
def list_projects(svc: Svc) -> list[ProjectSummary]:
    return [summary(row, svc) for row in svc.records.list_projects()]


@router.post("", status_code=201)
def create_project(body: ProjectCreate, svc: Svc) -> ProjectOut:
    """Import the live schema and apply an initial mapping, as `relmig import` does."""
    connection = svc.connection(body.connection_id)
    settings = svc.source_settings(connection, body.schemas or None)
    tables = import_tables(settings, svc.password(connection), only=body.tables)
    if not tables:
        schemas = settings.schemas or "default"
        raise ApiError(422, f"no tables found in {settings.database} (schemas: {schemas})")
    if not settings.schemas:
        settings.schemas = sorted({t.schema_ for t in tables})
    project = Project(
        name=body.name,
        source=settings,
        tables=tables,
        collections=initial_collections(tables, body.mapping, body.casing),
        casing=body.casing,
    )
    row = svc.records.add_project(
        {"name": body.name, "connection_id": connection["id"], "body": project_json(project)}
    )
    return detail(row, svc)


@router.post("/import", status_code=201)
def import_project(body: ProjectImport, svc: Svc) -> ProjectOut:
    """A project file, as `relmig import` writes it or `GET /projects/{id}/export` returns it."""
    project = parse_project_text(body.yaml, "the uploaded project file")
    if body.name:
        project.name = body.name
    if body.connection_id is not None:
        svc.connection(body.connection_id)
    row = svc.records.add_project(
        {"name": project.name, "connection_id": body.connection_id, "body": project_json(project)}
    )
    return detail(row, svc)


@router.get("/{project_id}")
def get_project(project_id: str, svc: Svc) -> ProjectOut:
    return detail(svc.project_record(project_id), svc)


@router.patch("/{project_id}")
def edit_project(project_id: str, body: ProjectPatch, svc: Svc) -> ProjectOut:
    """Rename, or read the source through another connection."""
    row = svc.project_record(project_id)
    values: dict[str, Any] = {}
    if body.name is not None:
        renamed = Project.model_validate(row["body"]).model_copy(update={"name": body.name})
        values.update(name=body.name, body=project_json(renamed))
    if "connection_id" in body.model_fields_set:
        if body.connection_id is not None:
            svc.connection(body.connection_id)
        values["connection_id"] = body.connection_id
    if values:
        svc.records.update_project(project_id, values)
    return detail(svc.project_record(project_id), svc)


@router.delete("/{project_id}", status_code=204)
def delete_project(project_id: str, svc: Svc) -> None:
    svc.project_record(project_id)
    running = active_jobs(svc, project_id)
    if running:
        raise ApiError(409, f"project {project_id} has active jobs: {', '.join(running)}")
    svc.records.delete_project(project_id)


class AnalysisIn(BaseModel):
    target_db: str | None = Field(
        default=None, description="The database a job would write (default: the project's)."
    )


@router.post("/{project_id}/analysis")
def analyze_project(project_id: str, svc: Svc, body: AnalysisIn | None = None) -> dict[str, Any]:
    """The pre-migration analysis (as `relmig analyze`): measured on the source now, against
    the server's default target when it has one (in `target_db`, as a job would write)."""
    row = svc.project_record(project_id)
    project = svc.project(row)
    profile = None
    if svc.config.target_uri:
        database = (body.target_db if body else None) or database_name_for(project.name)
        if problem := database_name_problem(database):  # as a job's target database is
            raise ApiError(422, problem)
        target = MongoTarget(svc.config.target_uri, database)
        try:
            profile = target.profile
        finally:
            target.close()
    password = svc.project_password(row)
    with svc.source(project.source, password) as source:
        live = import_tables(project.source, password, only=[t.id for t in project.tables])
        return analyze(project, source, profile, live).as_dict()


@router.get("/{project_id}/export", response_class=PlainTextResponse)
def export_project(project_id: str, svc: Svc) -> PlainTextResponse:
    """The project file (YAML). It names the password's environment variable, never a password."""
    row = svc.project_record(project_id)
    return PlainTextResponse(
        dump_project(svc.project(row)),
        media_type="application/yaml",
        headers={"Content-Disposition": f'attachment; filename="{_file_name(row["name"])}.yaml"'},
    )
