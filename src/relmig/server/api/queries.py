"""Query conversion: the API's `relmig convert`, on a stored project."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from relmig.mongo.names import database_name_for, database_name_problem
from relmig.mongo.writer import MongoTarget
from relmig.queries.answers import answer, statements_of
from relmig.server.context import Svc
from relmig.server.errors import ApiError

router = APIRouter(prefix="/projects/{project_id}", tags=["queries"])


class ConvertIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sql: str = Field(min_length=1, max_length=100_000, description="SELECTs, ; between them.")
    lang: Literal["shell", "python"] = "shell"
    verify: bool = Field(
        default=False, description="Run both and compare (on the server's default target)."
    )
    target_db: str | None = Field(default=None, description="Default: the project's database.")


@router.post("/convert")
def convert_queries(project_id: str, body: ConvertIn, svc: Svc) -> list[dict[str, Any]]:
    """Each statement converted from the mapping (as `relmig convert`), or refused with the
    construct and its place; with `verify`, both run and the answers are compared."""
    row = svc.project_record(project_id)
    project = svc.project(row)
    if not project.collections:
        raise ApiError(422, "the project maps no collections: nothing to query")
    statements = statements_of(body.sql, project.source.dialect)
    if not statements:
        raise ApiError(422, "no SQL statement to convert")
    if body.verify and not svc.config.target_uri:
        raise ApiError(422, "verify runs the conversion on a target: the server has none")
    with svc.source(project.source, svc.project_password(row)) as source:
        if not svc.config.target_uri:
            return [a.as_dict(body.lang) for a in answer(project, statements, source)]
        database = body.target_db or database_name_for(project.name)
        if problem := database_name_problem(database):
            raise ApiError(422, problem)
        target = MongoTarget(svc.config.target_uri, database)
        try:
            found = answer(project, statements, source, target, verify=body.verify)
        finally:
            target.close()
    return [a.as_dict(body.lang) for a in found]
