"""Cross-reference checks of a project: every rule must point at real tables, keys and columns,
every collection name must be one MongoDB accepts, and no two values may land on one field.

Errors are raised as one ValueError listing every problem with its location, so a hand-edited
file gets all of its mistakes reported at once. Every way in (file, API, UI, CLI) goes through
here. `warnings` lists what is allowed but likely to hurt (a `.` in a collection name).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from relmig.project.filters import filter_problem
from relmig.project.validate_modeling import check_expressions, check_relationships

if TYPE_CHECKING:
    from relmig.project.model import (
        CollectionRule,
        EmbedRule,
        FieldRule,
        Project,
        SourceSettings,
        Table,
    )


def check_references(project: Project) -> None:
    problems: list[str] = []
    problems.extend(source_problems(project.source))
    tables = {t.id: t for t in project.tables}
    for i, table in enumerate(project.tables):
        _check_table(table, tables, f"tables[{i}]", problems)
    check_relationships(project, tables, problems)
    check_expressions(project, tables, problems)
    # Rules follow synthetic relationships as they follow declared keys.
    tables = {
        t.id: t.model_copy(update={"foreign_keys": project.links_of(t)}) for t in tables.values()
    }
    names: set[str] = set()
    for i, coll in enumerate(project.collections):
        where = f"collections[{i}] ({coll.name})"
        if coll.name in names:
            problems.append(f"{where}.name: the collection name {coll.name} is used twice")
        names.add(coll.name)
        refused = collection_name_problem(coll.name)
        if refused:
            problems.append(f"{where}.name: {refused}")
        _check_collection(coll, tables, where, problems)
    for table_id, table_filter in project.filters.items():
        if table_id not in tables:
            problems.append(f"filters.{table_id}: unknown table")
        elif table_filter.where is not None:
            problem = filter_problem(table_filter.where, tables[table_id], project.source.dialect)
            if problem:
                problems.append(f"filters.{table_id}.where: {problem}")
    if problems:
        raise ValueError("; ".join(problems))


# MongoDB limits `database.collection` to 255 bytes and a database name to 64: a collection name
# of at most 190 bytes fits whatever database a job writes to.
MAX_COLLECTION_BYTES = 255 - 64 - 1


def collection_name_problem(name: str) -> str | None:
    """Why MongoDB (or its tools) would refuse this collection name, or None."""
    if not name.strip():
        return "a collection name is required"
    if "$" in name:
        return f"the collection name {name} contains '$', which MongoDB does not allow"
    if "\0" in name:
        return "the collection name contains a NUL character, which MongoDB does not allow"
    if name.startswith("system."):
        return f"the collection name {name} starts with 'system.', which MongoDB reserves"
    size = len(name.encode())
    if size > MAX_COLLECTION_BYTES:
        return (
            f"the collection name is {size} bytes long; MongoDB allows 255 bytes for "
            f"database.collection, so keep it within {MAX_COLLECTION_BYTES}"
        )
    return None


def warnings(project: Project) -> list[str]:
    """What the project allows but may hurt later, each as `path: message`."""
    return dotted_names(project) + _unkeyed(project)


def dotted_names(project: Project) -> list[str]:
    return [
        f"collections[{i}] ({c.name}).name: the collection name {c.name} contains '.', which "
        "some tools (mongodump, mongoexport, drivers' getCollection by attribute) read as a "
        "sub-collection; consider '_' instead"
        for i, c in enumerate(project.collections)
        if "." in c.name
    ]


def _unkeyed(project: Project) -> list[str]:
    """Tables no rule can map, said once each rather than left out without a word (a rule
    that maps one is an error of its own)."""
    mapped: set[str] = set()
    rules: list[CollectionRule | EmbedRule] = list(project.collections)
    while rules:
        rule = rules.pop()
        mapped.add(rule.table)
        rules += rule.embeds
    return [
        f"tables[{i}] ({t.id}): not mapped: it has no primary key and no unique index over "
        "NOT NULL columns, so its rows cannot be addressed in the target; add one (ALTER "
        f"TABLE {t.id} ADD PRIMARY KEY (...)) and import the table again to map it"
        for i, t in enumerate(project.tables)
        if not t.primary_key and t.id not in mapped
    ]


def source_problems(source: SourceSettings) -> list[str]:
    """What is wrong with where and how relmig connects: the project's, a connection's, an
    import URL's (each way in has these same checks)."""
    out: list[str] = []
    for name in ("port", "replication_port"):
        port = getattr(source, name)
        if port is not None and not 0 < port < 65536:
            out.append(f"source.{name}: {port} is not a TCP port (1-65535)")
    if source.dialect != "postgresql":
        for name in ("replication_host", "replication_port"):
            if getattr(source, name) is not None:
                out.append(
                    f"source.{name}: only a PostgreSQL source has a replication connection "
                    "of its own (the binlog is read through host and port)"
                )
    elif source.replication_host is not None and not source.replication_host.strip():
        out.append("source.replication_host: is empty (leave it out to use host)")
    if source.dialect != "postgresql" and source.require_auth is not None:
        out.append("source.require_auth: is libpq's, for a PostgreSQL source only")
    tls = source.tls
    if (tls.cert_file is None) != (tls.key_file is None):
        out.append("source.tls: a client certificate needs both cert_file and key_file")
    if tls.ca_file is not None and tls.mode not in ("verify-ca", "verify-full"):
        out.append(
            f"source.tls.ca_file: checks nothing with mode {tls.mode or '(unset)'}; "
            "use verify-full (or verify-ca)"
        )
    if tls.cert_file is not None and tls.mode not in ("require", "verify-ca", "verify-full"):
        out.append(
            f"source.tls.cert_file: is not sent with mode {tls.mode or '(unset)'}; "
            "use require, verify-ca or verify-full"
        )
    return out


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
    _check_collisions(table, coll.fields, coll.embeds, tables, where, out)
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
    if embed.primitive is None and not embed.merge:  # merged fields are checked in the parent
        _check_collisions(table, embed.fields, embed.embeds, tables, where, out)
    columns = {c.name for c in table.columns}
    if embed.primitive is not None and embed.primitive not in columns:
        out.append(f"{where}.primitive: table {table.id} has no column {embed.primitive!r}")
    for key in embed.sort:
        if key.column not in columns:
            out.append(f"{where}.sort: table {table.id} has no column {key.column!r}")
    for j, child in enumerate(embed.embeds):
        _check_embed(child, table, tables, f"{where}.embeds[{j}]", out)


def _check_collisions(
    table: Table,
    fields: dict[str, FieldRule],
    embeds: list[EmbedRule],
    tables: dict[str, Table],
    where: str,
    out: list[str],
) -> None:
    """Two values may not land on the same field: one would silently overwrite the other.

    A merged *Embedded documents* rule puts its fields next to the parent's, so they compete
    for the same names; the problem is reported at the field that comes second.
    """
    owners: dict[str, str] = {}
    for name, owner, path in _landing_fields(table, fields, embeds, tables, where):
        if name in owners:
            out.append(f"{path}: the field {name} already comes from {owners[name]}")
        else:
            owners[name] = owner


def _landing_fields(
    table: Table,
    fields: dict[str, FieldRule],
    embeds: list[EmbedRule],
    tables: dict[str, Table],
    where: str,
) -> Iterator[tuple[str, str, str]]:
    """(field name, where its value comes from, rule path) for every field at one level."""
    for col in table.columns:
        rule = fields.get(col.name)
        if rule is not None and not rule.include:
            continue
        name = rule.name if rule is not None and rule.name else col.name
        yield name, f"{table.name} (column {col.name})", f"{where}.fields.{col.name}"
    for j, embed in enumerate(embeds):
        path = f"{where}.embeds[{j}]"
        if embed.merge:
            merged = tables.get(embed.table)
            if merged is not None:
                yield from _landing_fields(merged, embed.fields, embed.embeds, tables, path)
        elif embed.field:
            yield embed.field, f"the embedded {embed.table}", f"{path}.field"
