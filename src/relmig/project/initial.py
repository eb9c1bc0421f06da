"""Initial mappings for a new project: one-to-one, recommended, or empty.

The recommended mapping follows the foreign keys:
- A child whose primary key contains its foreign key to a parent (order lines of an order) only
  exists through that parent, so it becomes an embedded array there instead of a collection.
  Its other foreign keys become embedded documents (each line embeds its product).
- A root that references a lookup table (a table with no foreign keys of its own, such as
  categories or shippers) embeds that row as a sub-document.
- Everything else stays a collection, referenced by key, so no document grows without bound.
"""

from __future__ import annotations

from typing import Literal

from relmig.project.casing import STYLES, Casing, apply_casing
from relmig.project.model import (
    CollectionRule,
    EmbedRule,
    FieldRule,
    ForeignKey,
    Project,
    Table,
)

InitialMapping = Literal["one-to-one", "recommended", "empty"]


def initial_collections(
    tables: list[Table], mapping: InitialMapping, casing: Casing = "keep"
) -> list[CollectionRule]:
    if mapping == "empty":
        return []
    with_pk = [t for t in tables if t.primary_key]
    if mapping == "one-to-one":
        return [_collection(t, casing, []) for t in with_pk]
    by_id = {t.id: t for t in with_pk}
    owner = {t.id: fk for t in with_pk if (fk := _owning_fk(t, by_id)) is not None}
    collections = []
    for table in with_pk:
        if table.id in owner:
            continue
        embeds = [
            _child_array(child, owner[child.id], by_id, casing)
            for child in with_pk
            if child.id in owner and owner[child.id].ref_table == table.id
        ]
        embeds += [
            _document(fk, by_id[fk.ref_table], casing, [])
            for fk in table.foreign_keys
            if fk.ref_table in by_id
            and _is_lookup(by_id[fk.ref_table])
            and fk.ref_table != table.id
        ]
        collections.append(_collection(table, casing, embeds))
    return collections


def _owning_fk(table: Table, tables: dict[str, Table]) -> ForeignKey | None:
    """The first foreign key that is part of the primary key and points at another table."""
    for fk in table.foreign_keys:
        if (
            fk.ref_table != table.id
            and fk.ref_table in tables
            and set(fk.columns) < set(table.primary_key)
        ):
            return fk
    return None


def _is_lookup(table: Table) -> bool:
    return not table.foreign_keys


def _child_array(
    child: Table, fk: ForeignKey, tables: dict[str, Table], casing: Casing
) -> EmbedRule:
    documents = [
        _document(other, tables[other.ref_table], casing, [])
        for other in child.foreign_keys
        if other is not fk and other.ref_table in tables and other.ref_table != child.id
    ]
    return EmbedRule(
        kind="array",
        table=child.id,
        foreign_key=fk.name,
        field=apply_casing(child.name, casing),
        fields=_yield_to_embeds(
            child, _fields(child, casing, exclude=fk.columns), documents, casing
        ),
        embeds=documents,
    )


def _document(fk: ForeignKey, parent: Table, casing: Casing, embeds: list[EmbedRule]) -> EmbedRule:
    name = fk.columns[0] if len(fk.columns) == 1 else parent.name
    for suffix in ("_id", "ID", "Id", "_key"):
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    return EmbedRule(
        kind="document",
        table=parent.id,
        foreign_key=fk.name,
        field=apply_casing(name, casing),
        fields=_fields(parent, casing),
        embeds=embeds,
    )


def _collection(table: Table, casing: Casing, embeds: list[EmbedRule]) -> CollectionRule:
    return CollectionRule(
        name=table.name,
        table=table.id,
        id="inherit",
        fields=_yield_to_embeds(table, _fields(table, casing), embeds, casing),
        embeds=embeds,
    )


def _yield_to_embeds(
    table: Table, fields: dict[str, FieldRule], embeds: list[EmbedRule], casing: Casing
) -> dict[str, FieldRule]:
    """A sub-document named like its foreign key column replaces that column (it holds the key)."""
    taken = {e.field for e in embeds}
    for col in table.columns:
        rule = fields.get(col.name, FieldRule())
        if rule.include and (rule.name or col.name) in taken:
            fields[col.name] = FieldRule(include=False)
    return fields


def _fields(table: Table, casing: Casing, exclude: list[str] | None = None) -> dict[str, FieldRule]:
    """Only the columns whose rule differs from the default, so the file stays short."""
    out: dict[str, FieldRule] = {}
    for col in table.columns:
        if exclude and col.name in exclude:
            out[col.name] = FieldRule(include=False)
            continue
        cased = apply_casing(col.name, casing)
        if cased != col.name:
            out[col.name] = FieldRule(name=cased)
    return out


# --- rules added one at a time (the UI's "Add a rule") -------------------------------------------


def casing_of(project: Project) -> Casing:
    """The project's casing; for a file written before it was recorded, the one its renamed
    fields follow (keep if they follow none)."""
    if project.casing is not None:
        return project.casing
    renamed: list[tuple[str, str]] = []

    def collect(fields: dict[str, FieldRule], embeds: list[EmbedRule]) -> None:
        renamed.extend((col, r.name) for col, r in fields.items() if r.name)
        for e in embeds:
            collect(e.fields, e.embeds)

    for c in project.collections:
        collect(c.fields, c.embeds)
    for casing in STYLES:
        if casing != "keep" and renamed and all(apply_casing(c, casing) == n for c, n in renamed):
            return casing  # type: ignore[return-value]
    return "keep"


def new_collection(project: Project, table_id: str) -> CollectionRule:
    """A *New documents* rule for a table, named so it does not clash, in the project's casing."""
    rule = _collection(project.table(table_id), casing_of(project), [])
    names = {c.name for c in project.collections}
    base, n = rule.name, 2
    while rule.name in names:
        rule.name, n = f"{base}_{n}", n + 1
    return rule


def new_embed(
    project: Project, kind: str, table_id: str, parent_id: str, foreign_key: str
) -> EmbedRule:
    """An *Embedded array* of `table_id` (its `foreign_key` points at the parent) or *Embedded
    documents* of `table_id` (the parent's `foreign_key` points at it), as import makes them."""
    table = project.table(table_id)
    casing = casing_of(project)
    if kind == "array":
        fk = project.link(table.id, foreign_key)
        return EmbedRule(
            kind="array",
            table=table.id,
            foreign_key=fk.name,
            field=apply_casing(table.name, casing),
            fields=_fields(table, casing, exclude=fk.columns),
        )
    fk = project.link(parent_id, foreign_key)
    rule = _document(fk, table, casing, [])
    if rule.field in {apply_casing(c, casing) for c in fk.columns}:
        # The parent keeps its link column as a field (import yields it, this rule cannot):
        # name the sub-document after the table instead of colliding with it.
        rule.field = apply_casing(table.name, casing)
    return rule
