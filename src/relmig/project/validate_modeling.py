"""Checks of the modeling beyond declared keys: synthetic relationships and expressions.

Called by `relmig.project.validate.check_references` with its list of problems, so a project
gets every mistake reported at once, each with its path: a synthetic relationship naming a
missing column, an expression that does not compile (with the engine's message), a column an
expression reads that the table does not have.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from relmig.expressions.language import referenced_columns, syntax_problem

if TYPE_CHECKING:
    from relmig.project.model import (
        CalculatedField,
        CollectionRule,
        EmbedRule,
        FieldRule,
        Project,
        Relationship,
        Table,
    )

# Column types that can hold the same key values, by family (anything else: same type only).
_FAMILIES = [
    ("integer", r"(tiny|small|medium|big)?int(eger)?\d*|(small|big)?serial\d*|year"),
    ("number", r"numeric|decimal|number|dec"),
    ("float", r"real|float\d*|double( precision)?"),
    (
        "text",
        r"(character |national )?(varying|varchar|char|character|text|tinytext|"
        r"mediumtext|longtext|nvarchar|nchar|string|citext|name|enum|set)",
    ),
    ("uuid", r"uuid"),
    ("date", r"date"),
    ("timestamp", r"timestamp( with(out)? time zone)?|timestamptz|datetime"),
    ("time", r"time( with(out)? time zone)?|timetz"),
    ("bool", r"bool(ean)?|bit"),
    ("binary", r"bytea|(var)?binary|(tiny|medium|long)?blob"),
]
_COMPATIBLE = {frozenset({"integer", "number"})}


def check_relationships(project: Project, tables: dict[str, Table], out: list[str]) -> None:
    names: set[str] = set()
    for i, rel in enumerate(project.relationships):
        where = f"relationships[{i}] ({rel.name})"
        if rel.name in names:
            out.append(f"{where}: the name is used by another relationship")
        names.add(rel.name)
        _check_relationship(rel, tables, where, out)


def _check_relationship(
    rel: Relationship, tables: dict[str, Table], where: str, out: list[str]
) -> None:
    ends = {}
    for label, end in (("parent", rel.parent), ("child", rel.child)):
        table = tables.get(end.table)
        if table is None:
            out.append(f"{where}.{label}.table: unknown table {end.table!r}")
            continue
        columns = {c.name: c for c in table.columns}
        missing = [c for c in end.columns if c not in columns]
        for col in missing:
            out.append(f"{where}.{label}.columns: table {end.table} has no column {col!r}")
        if not missing:
            ends[label] = [columns[c] for c in end.columns]
    child = tables.get(rel.child.table)
    if child is not None and any(fk.name == rel.name for fk in child.foreign_keys):
        out.append(f"{where}: {rel.child.table} declares a foreign key of the same name")
    if len(rel.parent.columns) != len(rel.child.columns):
        out.append(
            f"{where}: the parent has {len(rel.parent.columns)} columns and the child "
            f"{len(rel.child.columns)}; they must pair up"
        )
    elif len(ends) == 2:
        for parent, child_col in zip(ends["parent"], ends["child"], strict=True):
            if not types_compatible(parent.type, child_col.type):
                out.append(
                    f"{where}: {rel.child.table}.{child_col.name} ({child_col.type}) cannot hold "
                    f"the values of {rel.parent.table}.{parent.name} ({parent.type})"
                )


def _family(sql_type: str) -> str:
    base = re.sub(r"\(.*?\)|\bunsigned\b|\[\]", "", sql_type.lower()).strip()
    for name, pattern in _FAMILIES:
        if re.fullmatch(pattern, base):
            return name
    return base


def types_compatible(a: str, b: str) -> bool:
    """Whether columns of these SQL types can hold the same key values."""
    fa, fb = _family(a), _family(b)
    return fa == fb or frozenset({fa, fb}) in _COMPATIBLE


# --- expressions ------------------------------------------------------------------------------


def check_expressions(project: Project, tables: dict[str, Table], out: list[str]) -> None:
    for i, coll in enumerate(project.collections):
        table = tables.get(coll.table)
        if table is None:
            continue  # reported by the reference checks
        where = f"collections[{i}] ({coll.name})"
        _check_rule(coll, table, tables, where, out)
        _check_custom_id(coll, table, where, out)


def _check_rule(
    rule: CollectionRule | EmbedRule,
    table: Table,
    tables: dict[str, Table],
    where: str,
    out: list[str],
) -> None:
    if rule.filter is not None:
        _check_expression(rule.filter, table, f"{where}.filter", out)
    primitive = getattr(rule, "primitive", None)
    if primitive and rule.calculated:
        out.append(f"{where}.calculated: an array of primitive values has no calculated fields")
    for j, calc in enumerate(rule.calculated):
        _check_calculated(calc, table, f"{where}.calculated[{j}] ({calc.name})", out)
    _check_calculated_names(rule, table, where, out)
    for j, embed in enumerate(rule.embeds):
        child = tables.get(embed.table)
        if child is not None:
            _check_rule(embed, child, tables, f"{where}.embeds[{j}]", out)


def _check_calculated(calc: CalculatedField, table: Table, where: str, out: list[str]) -> None:
    parts = calc.name.split(".")
    if not calc.name or any(not p or p.startswith("$") for p in parts):
        out.append(f"{where}.name: {calc.name!r} is not a valid field path")
    elif parts[0] == "_id":
        out.append(f"{where}.name: use the rule's custom _id for _id, not a calculated field")
    _check_expression(calc.expression, table, f"{where}.expression", out)


def _check_calculated_names(
    rule: CollectionRule | EmbedRule, table: Table, where: str, out: list[str]
) -> None:
    """A calculated field may not land where a column or an embedding does."""
    taken = {_field_name(c.name, rule.fields.get(c.name)) for c in table.columns}
    taken.discard(None)
    taken |= {e.field for e in rule.embeds if e.field and not e.merge}
    seen: set[str] = set()
    for j, calc in enumerate(rule.calculated):
        here = f"{where}.calculated[{j}] ({calc.name})"
        if calc.name in taken or calc.name in seen:
            out.append(f"{here}: field {calc.name!r} is mapped twice")
        elif clash := _nested_clash(calc.name, taken | seen):
            out.append(
                f"{here}: field {calc.name!r} and field {clash!r} would overwrite each other"
            )
        seen.add(calc.name)


def _nested_clash(name: str, taken: set[str | None]) -> str | None:
    """A field that is a prefix of `name` (a value where `name` needs a sub-document), or one
    that `name` is a prefix of."""
    for other in taken:
        if other and (name.startswith(other + ".") or other.startswith(name + ".")):
            return other
    return None


def _field_name(column: str, rule: FieldRule | None) -> str | None:
    if rule is not None and not rule.include:
        return None
    return rule.name if rule is not None and rule.name else column


def _check_custom_id(coll: CollectionRule, table: Table, where: str, out: list[str]) -> None:
    from relmig.project.model import CustomId

    if not isinstance(coll.id, CustomId):
        return
    columns = {c.name for c in table.columns}
    for col in coll.id.columns:
        if col not in columns:
            out.append(f"{where}.id.columns: table {table.id} has no column {col!r}")
    if len(set(coll.id.columns)) != len(coll.id.columns):
        out.append(f"{where}.id.columns: a column is named twice")
    if coll.id.expression is not None:
        _check_expression(coll.id.expression, table, f"{where}.id.expression", out)


def _check_expression(expression: str, table: Table, where: str, out: list[str]) -> None:
    problem = syntax_problem(expression)
    if problem is not None:
        out.append(f"{where}: {problem}")
        return
    columns = {c.name for c in table.columns}
    for name in sorted((referenced_columns(expression) or set()) - columns):
        out.append(f"{where}: table {table.id} has no column {name!r} (columns[{name!r}])")
