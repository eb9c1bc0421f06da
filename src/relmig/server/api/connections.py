"""Source connections: add, test, edit, delete, and list a live database's tables.

A password arrives once, is sealed by the vault, and never leaves again: responses only say where
it comes from (`stored`, `env` with the variable's name, or `none`).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from relmig.errors import RelmigError, SourceError
from relmig.project.initial import initial_collections
from relmig.project.model import Dialect, Project, SourceSettings, SourceTls
from relmig.schema.introspect import import_tables
from relmig.server.context import Services, Svc
from relmig.server.errors import ApiError
from relmig.source.capture import fix_script, missing_prerequisites

router = APIRouter(prefix="/connections", tags=["connections"])

# The fields that decide where a password is sent, as whom and how protected.
WHERE_IT_GOES = ("dialect", "host", "port", "database", "user", "tls", "require_auth")

EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=200)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class ConnectionFields(BaseModel):
    """A password is either `password` (stored encrypted) or `password_env` (read at use)."""

    model_config = ConfigDict(extra="forbid")

    password: SecretStr | None = None
    password_env: EnvName | None = None

    @model_validator(mode="after")
    def _one_password_source(self) -> ConnectionFields:
        if self.password is not None and self.password_env is not None:
            raise ValueError("give either password or password_env, not both")
        return self


class ConnectionIn(ConnectionFields):
    name: Name
    dialect: Dialect
    host: Name = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    database: Name
    user: Name
    schemas: list[str] = []
    tls: SourceTls = SourceTls()
    require_auth: Name | None = None


class ConnectionPatch(ConnectionFields):
    """Only the fields given change; `"password": null` removes a stored password."""

    name: Name | None = None
    dialect: Dialect | None = None
    host: Name | None = None
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    database: Name | None = None
    user: Name | None = None
    schemas: list[str] | None = None
    tls: SourceTls | None = None
    require_auth: Name | None = None


class ConnectionOut(BaseModel):
    id: str
    name: str
    dialect: str
    host: str
    port: int | None
    database: str
    user: str
    schemas: list[str]
    tls: SourceTls
    require_auth: str | None
    password: Literal["stored", "env", "none"]
    password_env: str | None
    projects: int


class ProjectCdc(BaseModel):
    """What a continuous job of this project would be refused for: the job's own check."""

    project: str
    ready: bool
    missing: list[dict[str, str | bool | None]] = []
    script: str | None = None
    error: str | None = None


class CdcCheck(BaseModel):
    """CDC prerequisites for every table of the connection's schemas mapped one-to-one, and,
    for a saved connection, for each project on it with its own mapping (embedding a table can
    need more, such as REPLICA IDENTITY FULL): ready only when a job of each would start."""

    ready: bool
    missing: list[dict[str, str | bool | None]] = []
    script: str | None = Field(default=None, description="The SQL that fixes what is missing.")
    error: str | None = None
    projects: list[ProjectCdc] = []


class TestResult(BaseModel):
    ok: bool
    message: str
    cdc: CdcCheck | None = None


class TableInfo(BaseModel):
    id: str
    schema_: str = Field(alias="schema")
    name: str
    columns: int
    primary_key: list[str]
    foreign_keys: int
    estimated_rows: int | None


def _out(row: dict[str, Any], svc: Services) -> ConnectionOut:
    kind = "stored" if row["password_sealed"] else "env" if row["password_env"] else "none"
    return ConnectionOut(
        **{k: row[k] for k in ("id", "name", "dialect", "host", "port", "database", "user")},
        schemas=row["schemas"],
        tls=SourceTls.model_validate(row["tls"] or {}),
        require_auth=row["require_auth"],
        password=kind,
        password_env=row["password_env"],
        projects=len(svc.records.list_projects(row["id"])),
    )


def _password_values(body: ConnectionFields, svc: Services) -> dict[str, Any]:
    """The stored columns for the password fields the request set."""
    if "password" in body.model_fields_set:
        secret = body.password.get_secret_value() if body.password else ""
        return {"password_sealed": svc.vault.seal(secret) if secret else None, "password_env": None}
    if "password_env" in body.model_fields_set:
        return {"password_sealed": None, "password_env": body.password_env}
    return {}


def _try(
    svc: Services,
    settings: SourceSettings,
    password: str | None,
    projects: list[Project] | None = None,
) -> TestResult:
    try:
        with svc.source(settings, password) as source:
            where = source.where
    except SourceError as exc:
        return TestResult(ok=False, message=str(exc))
    cdc = _cdc(settings, password, projects or [])
    return TestResult(ok=True, message=f"connected to the {where}", cdc=cdc)


def _cdc(settings: SourceSettings, password: str | None, projects: list[Project]) -> CdcCheck:
    """What CDC of any table here would lack, and what each project's jobs would."""
    try:
        tables = import_tables(settings, password)
        one_to_one = Project(
            name="connection-test",
            source=settings,
            tables=tables,
            collections=initial_collections(tables, "one-to-one"),
        )
        missing = missing_prerequisites(one_to_one, password)
    except RelmigError as exc:
        return CdcCheck(ready=False, error=str(exc))
    checked = [_project_cdc(p, password) for p in projects]
    return CdcCheck(
        ready=not missing and all(p.ready for p in checked),
        missing=[asdict(p) for p in missing],
        script=fix_script(missing) if missing else None,
        projects=checked,
    )


def _project_cdc(project: Project, password: str | None) -> ProjectCdc:
    try:
        missing = missing_prerequisites(project, password)
    except RelmigError as exc:
        return ProjectCdc(project=project.name, ready=False, error=str(exc))
    return ProjectCdc(
        project=project.name,
        ready=not missing,
        missing=[asdict(p) for p in missing],
        script=fix_script(missing) if missing else None,
    )


@router.get("")
def list_connections(svc: Svc) -> list[ConnectionOut]:
    return [_out(row, svc) for row in svc.records.list_connections()]


@router.post("", status_code=201)
def add_connection(body: ConnectionIn, svc: Svc) -> ConnectionOut:
    values = body.model_dump(exclude={"password", "password_env"})
    values["tls"] = body.tls.model_dump(exclude_none=True)
    svc.source_settings({**values, "password_env": body.password_env})  # the one check
    row = svc.records.add_connection(
        {"password_sealed": None, "password_env": None, **values, **_password_values(body, svc)}
    )
    return _out(row, svc)


@router.post("/test")
def test_new_connection(body: ConnectionIn, svc: Svc) -> TestResult:
    """Try settings before saving them."""
    row = body.model_dump(exclude={"password"})
    password = body.password.get_secret_value() if body.password else None
    return _try(svc, svc.source_settings(row), password)


@router.get("/{conn_id}")
def get_connection(conn_id: str, svc: Svc) -> ConnectionOut:
    return _out(svc.connection(conn_id), svc)


@router.patch("/{conn_id}")
def edit_connection(conn_id: str, body: ConnectionPatch, svc: Svc) -> ConnectionOut:
    stored = svc.connection(conn_id)
    svc.check_env(body.password_env)
    values = body.model_dump(exclude={"password", "password_env"}, exclude_unset=True)
    if any(values.get(k, "") is None for k in ("name", "dialect", "host", "database", "user")):
        raise ApiError(422, "name, dialect, host, database and user cannot be removed")
    if "tls" in values:  # null: back to the drivers' default
        values["tls"] = body.tls.model_dump(exclude_none=True) if body.tls else {}
    svc.source_settings({**stored, **values})  # the one check, on the edited whole
    before = {**stored, "tls": stored["tls"] or {}}  # rows older than TLS settings hold null
    moved = [k for k in WHERE_IT_GOES if k in values and values[k] != before[k]]
    given = {"password", "password_env"} & body.model_fields_set
    if moved and stored["password_sealed"] and not given:
        # A stored password goes only where it was given: to another address or account,
        # only if the same request gives it again (as Grafana does for a data source's URL).
        values["password_sealed"] = None
    values.update(_password_values(body, svc))
    if values:
        svc.records.update_connection(conn_id, values)
    return _out(svc.connection(conn_id), svc)


@router.delete("/{conn_id}", status_code=204)
def delete_connection(conn_id: str, svc: Svc) -> None:
    svc.connection(conn_id)
    used = [p["name"] for p in svc.records.list_projects(conn_id)]
    if used:
        raise ApiError(409, f"connection {conn_id} is used by the projects {', '.join(used)}")
    svc.records.delete_connection(conn_id)


@router.post("/{conn_id}/test")
def test_connection(conn_id: str, svc: Svc) -> TestResult:
    row = svc.connection(conn_id)
    projects = [svc.project(p) for p in svc.records.list_projects(conn_id)]
    return _try(svc, svc.source_settings(row), svc.password(row), projects)


@router.get("/{conn_id}/tables")
def list_tables(
    conn_id: str,
    svc: Svc,
    schema: Annotated[
        list[str] | None, Query(description="Default: the connection's schemas.")
    ] = None,
) -> list[TableInfo]:
    """The live database's tables, to choose from when creating a project."""
    row = svc.connection(conn_id)
    tables = import_tables(svc.source_settings(row, schema), svc.password(row))
    return [
        TableInfo(
            id=t.id,
            schema=t.schema_,
            name=t.name,
            columns=len(t.columns),
            primary_key=t.primary_key,
            foreign_keys=len(t.foreign_keys),
            estimated_rows=t.estimated_rows,
        )
        for t in tables
    ]
