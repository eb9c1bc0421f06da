"""The mapping rules of a project, and previews of the documents they build from real rows.

A rule is sent as the JSON of a `CollectionRule` (its embedded rules nested inside) and checked in
the context of the whole project, exactly as the project file is on load. A rule that does not
check out is refused with 422 and its problems, each with a path relative to the rule
(`.embeds[0].foreign_key`), so the UI can show each problem where it belongs.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from bson import json_util
from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, ConfigDict, Field

from relmig.analysis.custom_ids import duplicate_ids, unproven
from relmig.documents.builder import DocumentBuilder
from relmig.documents.plan import compile_collection
from relmig.errors import ProjectFileError, RelmigError
from relmig.project.file import parse_project
from relmig.project.initial import new_collection, new_embed
from relmig.project.model import CollectionRule, Project, TableFilter
from relmig.project.refresh import refreshed
from relmig.runtime.keys import show_key
from relmig.server.api.projects import ProjectOut, detail, project_json
from relmig.server.context import Services, Svc
from relmig.server.errors import ApiError, not_found, problem_list

router = APIRouter(prefix="/projects/{project_id}", tags=["mapping"])

RuleBody = Annotated[
    dict[str, Any],
    Body(description="A CollectionRule: name, table, id, fields, embeds (see the project file)."),
]
Limit = Annotated[int, Query(ge=1, le=20)]


class NewRule(BaseModel):
    """Which rule to start: a collection of `table`, or an embedding of `table` in `parent`."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["new", "array", "document"]
    table: str
    parent: str | None = Field(default=None, description="The table it is embedded in.")
    foreign_key: str | None = Field(default=None, description="The link between the two.")


class PreviewProblem(BaseModel):
    table: str
    key: str
    field: str
    reason: str


class Preview(BaseModel):
    collection: str
    documents: list[dict[str, Any]]
    problems: list[PreviewProblem]
    rows: int = Field(description="Source rows read: none left means the table has none.")


def _position(project: Project, name: str) -> int:
    for i, coll in enumerate(project.collections):
        if coll.name == name:
            return i
    raise not_found("collection", name)


def _with_rule(project: Project, position: int, rule: dict[str, Any] | None) -> Project:
    """The project with its collection at `position` replaced (or appended, or removed)."""
    return _with_item(project, "collections", position, rule, "rule")


def _with_item(
    project: Project, section: str, position: int, item: dict[str, Any] | None, what: str
) -> Project:
    """The project with item `position` of `section` replaced (appended at the end, removed
    when `item` is None), through the one validator: 422 with each problem's path relative to
    the item when it does not hold."""
    raw = project_json(project)
    items = raw[section]
    if item is None:
        del items[position]
    elif position == len(items):
        items.append(item)
    else:
        items[position] = item
    name = item.get("name") if item else None
    prefix = f"{section}[{position}]" + (f" ({name})" if isinstance(name, str) else "")
    try:
        return parse_project(raw, "the mapping")
    except ProjectFileError as exc:
        problems = problem_list(exc.problems, prefix)
        listing = "; ".join(f"{p['path'] or what}: {p['message']}" for p in problems)
        raise ApiError(422, f"the {what} is invalid: {listing}", problems=problems) from None


def _save(svc: Services, project_id: str, project: Project) -> ProjectOut:
    """Store the project once the one validator passed it (a changed filter is checked here),
    and a custom `_id` the source's rows repeat is refused (relmig.analysis.custom_ids)."""
    project = parse_project(project_json(project), "the mapping")
    if unproven(project):
        row = svc.project_record(project_id)
        try:
            with svc.source(project.source, svc.project_password(row)) as source:
                found = duplicate_ids(project, source)
        except RelmigError:
            found = []  # the source is away: a job's creation asks it again
        if found:
            raise ApiError(422, "; ".join(d.message() for d in found))
    svc.records.update_project(project_id, {"body": project_json(project)})
    return detail(svc.project_record(project_id), svc)


def _stored(svc: Services, project_id: str) -> Project:
    return Project.model_validate(svc.project_record(project_id)["body"])


@router.post("/refresh")
def refresh_tables(project_id: str, svc: Svc) -> dict[str, Any]:
    """Read the project's tables again from its source, keeping its rules (`relmig
    refresh`): a column added, renamed or retyped there reaches the mapping, and through a
    job's Update mapping the running job."""
    row = svc.project_record(project_id)
    read, changes = refreshed(svc.project(row), svc.project_password(row))
    kept = _stored(svc, project_id).model_copy(update={"tables": read.tables})
    return {"changes": changes, "project": _save(svc, project_id, kept)}


@router.post("/rules/new")
def start_rule(project_id: str, body: NewRule, svc: Svc) -> dict[str, Any]:
    """A new rule as `relmig import` would write it (the project's field casing), not saved:
    the UI opens it in the rule editor."""
    project = _stored(svc, project_id)
    tables = {t.id: t for t in project.tables}
    if body.table not in tables:
        raise not_found("table", body.table)
    if body.kind == "new":
        return new_collection(project, body.table).model_dump(mode="json", by_alias=True)
    if body.parent not in tables or not body.foreign_key:
        raise ApiError(422, "an embedded rule needs the parent table and the foreign key")
    try:
        rule = new_embed(project, body.kind, body.table, body.parent, body.foreign_key)
    except KeyError as exc:
        link = f"no foreign key {exc.args[0]} links {body.table} and {body.parent}"
        raise ApiError(422, link) from None
    return rule.model_dump(mode="json", by_alias=True)


@router.post("/collections", status_code=201)
def add_collection(project_id: str, rule: RuleBody, svc: Svc) -> ProjectOut:
    """Add a *New documents* rule (with any embedded rules)."""
    project = _stored(svc, project_id)
    return _save(svc, project_id, _with_rule(project, len(project.collections), rule))


@router.put("/collections/{name}")
def replace_collection(project_id: str, name: str, rule: RuleBody, svc: Svc) -> ProjectOut:
    """Replace a collection's rules; the body may rename it."""
    project = _stored(svc, project_id)
    return _save(svc, project_id, _with_rule(project, _position(project, name), rule))


@router.delete("/collections/{name}")
def delete_collection(project_id: str, name: str, svc: Svc) -> ProjectOut:
    project = _stored(svc, project_id)
    return _save(svc, project_id, _with_rule(project, _position(project, name), None))


RelationshipBody = Annotated[
    dict[str, Any],
    Body(description="A synthetic relationship: name, parent and child (table, columns)."),
]


def _with_relationship(
    project: Project, position: int, relationship: dict[str, Any] | None
) -> Project:
    """The project with its synthetic relationship at `position` replaced, added or removed;
    a rule that still follows a removed one is reported where it is."""
    return _with_item(project, "relationships", position, relationship, "relationship")


def _relationship_position(project: Project, name: str) -> int:
    for i, rel in enumerate(project.relationships):
        if rel.name == name:
            return i
    raise not_found("relationship", name)


@router.post("/relationships", status_code=201)
def add_relationship(project_id: str, body: RelationshipBody, svc: Svc) -> ProjectOut:
    """Add a synthetic relationship: a link the database does not declare."""
    project = _stored(svc, project_id)
    changed = _with_relationship(project, len(project.relationships), body)
    return _save(svc, project_id, changed)


@router.put("/relationships/{name}")
def replace_relationship(
    project_id: str, name: str, body: RelationshipBody, svc: Svc
) -> ProjectOut:
    project = _stored(svc, project_id)
    changed = _with_relationship(project, _relationship_position(project, name), body)
    return _save(svc, project_id, changed)


@router.delete("/relationships/{name}")
def delete_relationship(project_id: str, name: str, svc: Svc) -> ProjectOut:
    project = _stored(svc, project_id)
    changed = _with_relationship(project, _relationship_position(project, name), None)
    return _save(svc, project_id, changed)


@router.put("/filters/{table_id}")
def set_filter(project_id: str, table_id: str, table_filter: TableFilter, svc: Svc) -> ProjectOut:
    """A snapshot-only table filter: a SQL WHERE clause and/or a row limit."""
    project = _stored(svc, project_id)
    if table_id not in {t.id for t in project.tables}:
        raise not_found("table", table_id)
    project.filters[table_id] = table_filter
    return _save(svc, project_id, project)


@router.delete("/filters/{table_id}")
def delete_filter(project_id: str, table_id: str, svc: Svc) -> ProjectOut:
    project = _stored(svc, project_id)
    if project.filters.pop(table_id, None) is None:
        raise not_found("filter on table", table_id)
    return _save(svc, project_id, project)


@router.get("/collections/{name}/preview")
def preview_collection(project_id: str, name: str, svc: Svc, limit: Limit = 1) -> Preview:
    """Sample documents of a collection, built from real source rows."""
    row = svc.project_record(project_id)
    project = svc.project(row)
    return _preview(svc, row, project, project.collections[_position(project, name)], limit)


@router.post("/preview")
def preview_draft(project_id: str, rule: RuleBody, svc: Svc, limit: Limit = 1) -> Preview:
    """Sample documents of a rule being edited (not saved), checked like a saved one."""
    row = svc.project_record(project_id)
    draft, position = _draft(svc.project(row), rule)
    return _preview(svc, row, draft, draft.collections[position], limit)


@router.post("/check")
def check_draft(project_id: str, rule: RuleBody, svc: Svc) -> dict[str, list[Any]]:
    """A rule being edited through the one validator, not saved: 422 with its problems as a
    save would answer, else none (the editor asks again as the user fixes them)."""
    _draft(_stored(svc, project_id), rule)
    return {"problems": []}


def _draft(project: Project, rule: dict[str, Any]) -> tuple[Project, int]:
    """The project with the edited collection in place of the one of its name (else added)."""
    names = [c.name for c in project.collections]
    position = names.index(rule["name"]) if rule.get("name") in names else len(names)
    return _with_rule(project, position, rule), position


def _preview(
    svc: Services, row: dict[str, Any], project: Project, rule: CollectionRule, limit: int
) -> Preview:
    with svc.source(project.source, svc.project_password(row)) as source:
        builder = DocumentBuilder(compile_collection(project, rule, source), source)
        page = next(iter(builder.scan(batch_size=limit)), None)
    built = page.built if page else []
    return Preview(
        collection=rule.name,
        rows=page.rows if page else 0,
        documents=[
            json.loads(json_util.dumps(b.doc, json_options=json_util.RELAXED_JSON_OPTIONS))
            for b in built
            if b.doc is not None
        ],
        problems=[
            PreviewProblem(table=p.table, key=show_key(p.key), field=p.field, reason=p.reason)
            for b in built
            for p in b.problems
        ],
    )
