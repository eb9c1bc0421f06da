"""Cross-reference checks of a project: every rule must point at real tables, keys and columns.

Errors are raised as one ValueError listing every problem with its location, so a hand-edited
file gets all of its mistakes reported at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from relmig.project.model import CollectionRule, EmbedRule, FieldRule, Project, Table


def check_references(project: Project) -> None:
    problems: list[str] = []
    tables = {t.id: t for t in project.tables}
    for i, table in enumerate(project.tables):
        _check_table(table, tables, f"tables[{i}]", problems)
    names: set[str] = set()
    for i, coll in enumerate(project.collections):
        where = f"collections[{i}] ({coll.name})"
        if coll.name in names:
            problems.append(f"{where}: collection name is used twice")
        names.add(coll.name)
        _check_collection(coll, tables, where, problems)
    for table_id in project.filters:
        if table_id not in tables:
            problems.append(f"filters.{table_id}: unknown table")
    if problems:
        raise ValueError("; ".join(problems))


def _check_table(table: Table, tables: dict[str, Table], where: str, out: list[str]) -> None:
    names = {c.name for c in table.columns}
    for col in table.primary_key:
        if col not in names:
            out.append(f"{where}.primary_key: unknown column {col!r}")
    for fk in table.foreign_keys:
        for col in fk.columns:
            if col not in names:
                out.append(f"{where}.foreign_keys.{fk.name}: unknown column {col!r}")
        ref = tables.get(fk.ref_table)
        if ref is None:
            out.append(f"{where}.foreign_keys.{fk.name}: unknown table {fk.ref_table!r}")
            continue
        ref_names = {c.name for c in ref.columns}
        for col in fk.ref_columns:
            if col not in ref_names:
                out.append(f"{where}.foreign_keys.{fk.name}: unknown column {fk.ref_table}.{col}")


def _check_collection(
    coll: CollectionRule, tables: dict[str, Table], where: str, out: list[str]
) -> None:
    table = tables.get(coll.table)
    if table is None:
        out.append(f"{where}.table: unknown table {coll.table!r}")
        return
    if not table.primary_key:
        out.append(
            f"{where}: table {coll.table} has no primary key, so its rows cannot be addressed"
        )
    _check_fields(coll.fields, table, f"{where}.fields", out)
    _check_collisions(table, coll.fields, coll.embeds, where, out)
    for j, embed in enumerate(coll.embeds):
        _check_embed(embed, table, tables, f"{where}.embeds[{j}]", out)


def _check_fields(fields: dict[str, FieldRule], table: Table, where: str, out: list[str]) -> None:
    names = {c.name for c in table.columns}
    for col, rule in fields.items():
        if col not in names:
            out.append(f"{where}.{col}: table {table.id} has no such column")
        if rule.name is not None and (
            not rule.name or any(not part or part.startswith("$") for part in rule.name.split("."))
        ):
            out.append(f"{where}.{col}.name: {rule.name!r} is not a valid field path")


def _check_embed(
    embed: EmbedRule, parent: Table, tables: dict[str, Table], where: str, out: list[str]
) -> None:
    table = tables.get(embed.table)
    if table is None:
        out.append(f"{where}.table: unknown table {embed.table!r}")
        return
    holder, target = (table, parent) if embed.kind == "array" else (parent, table)
    try:
        fk = holder.foreign_key(embed.foreign_key)
    except KeyError:
        out.append(f"{where}.foreign_key: {holder.id} has no foreign key {embed.foreign_key!r}")
        return
    if fk.ref_table != target.id:
        out.append(
            f"{where}.foreign_key: {embed.foreign_key} references {fk.ref_table}, not {target.id}"
        )
    if not table.primary_key:
        out.append(f"{where}: table {table.id} has no primary key, so its rows cannot be addressed")
    _check_fields(embed.fields, table, f"{where}.fields", out)
    if embed.primitive is None:
        _check_collisions(table, embed.fields, embed.embeds, where, out)
    columns = {c.name for c in table.columns}
    if embed.primitive is not None and embed.primitive not in columns:
        out.append(f"{where}.primitive: table {table.id} has no column {embed.primitive!r}")
    for key in embed.sort:
        if key.column not in columns:
            out.append(f"{where}.sort: table {table.id} has no column {key.column!r}")
    for j, child in enumerate(embed.embeds):
        _check_embed(child, table, tables, f"{where}.embeds[{j}]", out)


def _check_collisions(
    table: Table, fields: dict[str, FieldRule], embeds: list[EmbedRule], where: str, out: list[str]
) -> None:
    """Two values may not land on the same field: one would silently overwrite the other."""
    owners: dict[str, str] = {}
    for col in table.columns:
        rule = fields.get(col.name)
        if rule is not None and not rule.include:
            continue
        name = rule.name if rule is not None and rule.name else col.name
        _claim(owners, name, f"column {col.name!r}", where, out)
    for embed in embeds:
        if embed.field and not embed.merge:
            _claim(owners, embed.field, f"the embedded {embed.table}", where, out)


def _claim(owners: dict[str, str], name: str, owner: str, where: str, out: list[str]) -> None:
    if name in owners:
        out.append(f"{where}: field {name!r} is mapped twice ({owners[name]} and {owner})")
    owners[name] = owner
