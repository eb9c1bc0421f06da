"""Compile mapping rules into plans: which columns to select and where each value goes.

Compiling once per job keeps the per-row work to index lookups and the converters that the
column types need, which is what lets the builder keep up with the target.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from bson import Decimal128

from relmig.documents.coerce import COERCIONS
from relmig.documents.computed import CalculatedPlan, ComputedPlan
from relmig.expressions.language import referenced_columns
from relmig.expressions.program import Program
from relmig.expressions.sandbox import ProgramSource
from relmig.project.model import (
    BsonType,
    CalculatedField,
    CollectionRule,
    Column,
    CustomId,
    EmbedRule,
    FieldRule,
    Project,
    Table,
    TableFilter,
)
from relmig.source.sql import SqlSource
from relmig.source.values import Converter, Unconvertible, makes_no_decimal128

DecimalMode = Literal["decimal128", "string", "double"]
IdMode = Literal["objectid", "inherit", "wrap", "columns", "expression"]
# Modes whose documents the target addresses by the source key kept in the document.
KEYED_BY_FIELDS = ("objectid", "columns", "expression")


@dataclass(slots=True)
class FieldPlan:
    column: str
    index: int
    path: tuple[str, ...]
    convert: Converter | None
    omit_null: bool
    # Its values and name are ones every target stores as they are (see `plain_values`).
    plain: bool = False
    # Its rule gives it another BSON type than the column's own.
    coerced: bool = False


@dataclass(slots=True)
class NodePlan:
    """One table's rows as they appear at one place of the document."""

    table: Table
    select_sql: str
    columns: list[str]
    key_index: list[int]
    fields: list[FieldPlan]
    links: list[LinkPlan] = field(default_factory=list)
    where: str | None = None
    computed: ComputedPlan | None = None

    @property
    def plain(self) -> bool:
        """No document of this node can hold what a target refuses (so none is screened); an
        expression's value may be anything."""
        return (
            self.computed is None
            and all(f.plain for f in self.fields)
            and all(link.plain for link in self.links)
        )

    def index_of(self, column: str) -> int:
        return self.columns.index(column)


@dataclass(slots=True)
class LinkPlan:
    """An embedding: how a node's rows find their rows of `node`, and where they go."""

    kind: Literal["array", "document"]
    node: NodePlan
    path: tuple[str, ...]
    parent_index: list[int]
    match_columns: list[str]
    match_index: list[int]
    merge: bool = False
    primitive: FieldPlan | None = None
    sort: list[tuple[int, bool]] = field(default_factory=list)
    limit: int | None = None

    @property
    def plain(self) -> bool:
        if not all(_plain_name(p) for p in self.path):
            return False
        if self.primitive is not None:
            return self.primitive.plain
        return self.node.plain


@dataclass(slots=True)
class IdColumnsPlan:
    """`_id` from a unique set of columns: one column's value, or a sub-document of several."""

    columns: list[str]
    index: list[int]
    convert: list[Converter | None]
    type_convert: Converter | None


@dataclass(slots=True)
class RootPlan:
    collection: CollectionRule
    node: NodePlan
    id_mode: IdMode
    key_columns: list[str]
    key_convert: list[Converter | None]
    key_paths: list[tuple[str, ...]]
    limit: int | None = None
    id_columns: IdColumnsPlan | None = None
    # The key columns' values are plain too (they make the _id, or are fields themselves).
    plain_keys: bool = False

    @property
    def keyed_by_fields(self) -> bool:
        """Addressed by the source key's fields in the document, not by `_id`."""
        return self.id_mode in KEYED_BY_FIELDS

    @property
    def plain(self) -> bool:
        """Whether no document of this collection can hold a value or field name that a
        target refuses, so that the target's screen can skip its documents. A custom `_id`
        (columns with a type override, or an expression's value) may be anything."""
        return self.plain_keys and self.id_columns is None and self.node.plain


def compile_collection(
    project: Project,
    collection: CollectionRule,
    source: SqlSource,
    *,
    filters: bool = True,
    decimals: DecimalMode = "decimal128",
) -> RootPlan:
    """`filters=False` ignores the snapshot-only table filters (CDC reads current state).

    `decimals` is how the target stores exact numbers: Decimal128 where it can, else a string
    (exact) or a double (approximate), chosen by the job.
    """
    table_filters = project.filters if filters else {}
    table = project.table(collection.table)
    custom = collection.id if isinstance(collection.id, CustomId) else None
    id_mode: IdMode
    if custom is not None:
        id_mode = "columns" if custom.columns else "expression"
    else:
        id_mode = collection.id  # type: ignore[assignment]
    if id_mode == "inherit" and len(table.primary_key) > 1:
        id_mode = "wrap"  # a composite key can only be inherited as a sub-document
    builder = _NodeBuilder(project, source, table_filters, decimals)
    fields = dict(collection.fields)
    if id_mode in KEYED_BY_FIELDS:
        # The key stays in the document (and gets a unique index) so rows remain addressable.
        for col in table.primary_key:
            rule = fields.get(col)
            if rule is not None and not rule.include:
                fields[col] = rule.model_copy(update={"include": True})
    else:
        for col in table.primary_key:
            fields[col] = FieldRule(include=False)
    id_expression = custom.expression if custom is not None else None
    extra = [*table.primary_key, *(custom.columns if custom is not None else [])]
    node = builder.node(
        table,
        fields,
        collection.embeds,
        extra=extra,
        calculated=collection.calculated,
        filter=collection.filter,
        id_expression=id_expression,
        id_type=custom.type if custom is not None else None,
    )
    key_paths = [_field_path(col, collection.fields.get(col)) for col in table.primary_key]
    key_convert = [source.converter_for(table.column(c)) for c in table.primary_key]
    limit = table_filters.get(table.id, TableFilter()).limit
    id_columns = None
    if custom is not None and custom.columns:
        id_columns = IdColumnsPlan(
            list(custom.columns),
            [node.index_of(c) for c in custom.columns],
            [builder.converter(table.column(c), FieldRule()) for c in custom.columns],
            builder.type_converter(custom.type),
        )
    plain_keys = all(
        _plain_name(c) and source.plain_values(table.column(c), decimals) for c in table.primary_key
    )
    return RootPlan(
        collection,
        node,
        id_mode,
        list(table.primary_key),
        key_convert,
        key_paths,
        limit,
        id_columns,
        plain_keys,
    )


def _plain_name(name: str) -> bool:
    """A field name every target takes: FerretDB v1 refuses '.' anywhere and a leading '$'."""
    return "." not in name and not name.startswith("$")


def _field_path(column: str, rule: FieldRule | None) -> tuple[str, ...]:
    """A renamed field's dots make sub-documents; a column's own name is kept whole."""
    if rule is not None and rule.name:
        return tuple(rule.name.split("."))
    return (column,)


DECIMAL_FORMS: dict[str, Callable[[Decimal], Any]] = {"string": str, "double": float}


def _decimals_as(convert: Converter, form: Callable[[Decimal], Any]) -> Converter:
    """Re-express the Decimal128 values a converter makes, inside arrays and JSON too.

    A source Decimal that the form holds exactly (any one as a string; one within Decimal128's
    34 digits as a double) is used as is, skipping the round trip through Decimal128, which was
    the slowest step of a snapshot; the rest (decimals inside arrays and JSON, values past
    Decimal128's range for doubles) goes through the converter and its checks.
    """

    def replace(value: Any) -> Any:
        kind = type(value)
        if kind is Decimal128:
            return form(value.to_decimal())
        if kind is list:
            return [replace(v) for v in value]
        if kind is dict:
            return {k: replace(v) for k, v in value.items()}
        return value

    def converted(value: Any) -> Any:
        if type(value) is Decimal:
            if form is str:
                return str(value)  # a string holds any decimal exactly, however many digits
            _, digits, exp = value.as_tuple()
            if type(exp) is int and len(digits) <= 34 and -6176 <= exp <= 6111:
                return form(value)  # finite and exactly what a Decimal128 would hold
        return replace(convert(value))

    return converted


def _coerced(convert: Converter | None, coerce: Callable[[Any], Any]) -> Converter:
    if convert is None:
        return lambda v: None if v is None else coerce(v)
    return lambda v: None if v is None else _coerce_converted(convert(v), coerce)


def _coerce_converted(value: Any, coerce: Callable[[Any], Any]) -> Any:
    if value is None or isinstance(value, Unconvertible):
        return value
    return coerce(value)


class _NodeBuilder:
    def __init__(
        self,
        project: Project,
        source: SqlSource,
        filters: dict[str, TableFilter],
        decimals: DecimalMode,
    ) -> None:
        self.project = project
        self.source = source
        self.filters = filters
        self.decimals = decimals

    def converter(self, column: Column, rule: FieldRule) -> Converter | None:
        convert = self.source.converter_for(column)
        if (
            convert is not None
            and self.decimals != "decimal128"
            and not makes_no_decimal128(convert)
        ):
            convert = _decimals_as(convert, DECIMAL_FORMS[self.decimals])
        if rule.type is not None:
            convert = _coerced(convert, COERCIONS[rule.type])
        return convert

    def type_converter(self, bson_type: BsonType | None) -> Converter | None:
        """An expression result's BSON type override, with decimals in the target's form."""
        if bson_type is None:
            return None
        convert = COERCIONS[bson_type]
        if self.decimals != "decimal128":
            convert = _decimals_as(convert, DECIMAL_FORMS[self.decimals])
        return convert

    def computed(
        self,
        table: Table,
        calculated: list[CalculatedField],
        filter: str | None,
        id_expression: str | None,
        id_type: BsonType | None,
        need: Callable[[str], int],
    ) -> ComputedPlan | None:
        """The node's expressions as one program: the filter first, the `_id` last."""
        expressions = [c.expression for c in calculated]
        if filter is not None:
            expressions.insert(0, filter)
        if id_expression is not None:
            expressions.append(id_expression)
        if not expressions:
            return None
        read: set[str] = set()
        for expression in expressions:
            found = referenced_columns(expression)
            if found is None:  # reads columns by computed names: give it every column
                read = {c.name for c in table.columns}
                break
            read |= found
        columns = [c.name for c in table.columns if c.name in read]
        program = Program(
            ProgramSource(tuple(columns), tuple(expressions), filter=filter is not None),
            [need(c) for c in columns],
            [self.source.converter_for(table.column(c)) for c in columns],
        )
        fields = [
            CalculatedPlan(
                c.name, tuple(c.name.split(".")), self.type_converter(c.type), c.nulls == "omit"
            )
            for c in calculated
        ]
        return ComputedPlan(
            program,
            filter is not None,
            fields,
            self.type_converter(id_type),
            id_expression is not None,
        )

    def plain(self, column: Column, rule: FieldRule, path: tuple[str, ...]) -> bool:
        if rule.type is not None or not all(_plain_name(p) for p in path):
            return False
        return self.source.plain_values(column, self.decimals)

    def node(
        self,
        table: Table,
        rules: dict[str, FieldRule],
        embeds: list[EmbedRule],
        extra: list[str],
        calculated: list[CalculatedField] | None = None,
        filter: str | None = None,
        id_expression: str | None = None,
        id_type: BsonType | None = None,
    ) -> NodePlan:
        """Plan a node; `extra` are columns needed for joins even if not mapped."""
        columns: list[str] = []

        def need(col: str) -> int:
            if col not in columns:
                columns.append(col)
            return columns.index(col)

        fields: list[FieldPlan] = []
        for col in table.columns:
            rule = rules.get(col.name, FieldRule())
            if not rule.include:
                continue
            convert = self.converter(col, rule)
            path = _field_path(col.name, rule)
            fields.append(
                FieldPlan(
                    column=col.name,
                    index=need(col.name),
                    path=path,
                    convert=convert,
                    omit_null=rule.nulls == "omit",
                    plain=self.plain(col, rule, path),
                    coerced=rule.type is not None,
                )
            )
        key_index = [need(c) for c in table.primary_key]
        for col in extra:
            need(col)
        links = [self._link(table, embed, need) for embed in embeds]
        computed = self.computed(table, calculated or [], filter, id_expression, id_type, need)
        select_sql = ", ".join(self.source.select_expression(table.column(c)) for c in columns)
        where = self.filters.get(table.id, TableFilter()).where
        return NodePlan(table, select_sql, columns, key_index, fields, links, where, computed)

    def _link(self, table: Table, embed: EmbedRule, need: Callable[[str], int]) -> LinkPlan:
        child = self.project.table(embed.table)
        if embed.kind == "array":
            fk = self.project.link(child.id, embed.foreign_key)
            parent_cols, match_cols = fk.ref_columns, fk.columns
        else:
            fk = self.project.link(table.id, embed.foreign_key)
            parent_cols, match_cols = fk.columns, fk.ref_columns
        parent_index = [need(c) for c in parent_cols]
        sort_cols = [s.column for s in embed.sort]
        extra = [*match_cols, *sort_cols]
        if embed.primitive:
            extra.append(embed.primitive)
        node = self.node(
            child,
            embed.fields,
            embed.embeds,
            extra=extra,
            calculated=embed.calculated,
            filter=embed.filter,
        )
        primitive = None
        if embed.primitive:
            col = child.column(embed.primitive)
            rule = embed.fields.get(col.name, FieldRule())
            convert = self.converter(col, rule)
            primitive = FieldPlan(
                col.name,
                node.index_of(col.name),
                (),
                convert,
                rule.nulls == "omit",
                self.plain(col, rule, ()),
            )
        return LinkPlan(
            kind=embed.kind,
            node=node,
            path=tuple(embed.field.split(".")) if embed.field else (),
            parent_index=parent_index,
            match_columns=list(match_cols),
            match_index=[node.index_of(c) for c in match_cols],
            merge=embed.merge,
            primitive=primitive,
            sort=[(node.index_of(s.column), s.descending) for s in embed.sort],
            limit=embed.limit,
        )
