"""Pydantic model of the project file.

The file is the contract between the user (who reads, diffs and edits it) and every job, so it is
strict: unknown keys are errors, and every cross-reference (tables, columns, foreign keys) is
checked when the file is loaded rather than when a job trips over it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from relmig.project.casing import Casing

SCHEMA_VERSION = 1
# The largest row count a limit may name: past any table's size, within every database's LIMIT.
MAX_ROWS = 10**12

BsonType = Literal[
    "string", "int32", "int64", "double", "decimal", "bool", "date", "objectId", "binary"
]
Dialect = Literal["postgresql", "mysql"]
# What the database does to a child row when its parent's key changes or the parent goes.
FkAction = Literal["NO ACTION", "RESTRICT", "CASCADE", "SET NULL", "SET DEFAULT"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --- relational model -------------------------------------------------------------------------


class Column(Strict):
    name: str
    type: str
    nullable: bool = True
    default: str | None = None
    # A generated column, stored or virtual (PostgreSQL 18's default, MariaDB's VIRTUAL): pgoutput
    # leaves it out (PostgreSQL 18 sends stored ones only if published), so documents read it
    # from the source like every column.
    generated: bool = False


class ForeignKey(Strict):
    name: str
    columns: list[str] = Field(min_length=1)
    ref_table: str
    ref_columns: list[str] = Field(min_length=1)
    on_delete: FkAction = "NO ACTION"
    on_update: FkAction = "NO ACTION"

    @model_validator(mode="after")
    def _same_arity(self) -> ForeignKey:
        if len(self.columns) != len(self.ref_columns):
            raise ValueError("columns and ref_columns must have the same length")
        return self


class RelationshipEnd(Strict):
    table: str
    columns: list[str] = Field(min_length=1)


class Relationship(Strict):
    """A *synthetic relationship*: a link the database does not declare, used like a foreign key.

    The child's columns hold the parent's; rules name it in `foreign_key` as they name a
    declared key. `evidence` records why `relmig import --infer-relationships` proposed it.
    """

    name: str
    parent: RelationshipEnd
    child: RelationshipEnd
    cardinality: Literal["one-to-one", "one-to-many"] = "one-to-many"
    evidence: str | None = None

    def as_foreign_key(self) -> ForeignKey:
        # Not validated here: the project validator reports a mismatch with its path.
        return ForeignKey.model_construct(
            name=self.name,
            columns=self.child.columns,
            ref_table=self.parent.table,
            ref_columns=self.parent.columns,
        )


class Index(Strict):
    name: str
    columns: list[str]
    unique: bool = False


class Table(Strict):
    schema_: str = Field(alias="schema")
    name: str
    columns: list[Column]
    primary_key: list[str] = []
    # The unique index (over NOT NULL columns) whose columns are the key, for a table without a
    # primary key; it must be the table's replica identity for CDC (relmig check says so).
    key_index: str | None = None
    foreign_keys: list[ForeignKey] = []
    indexes: list[Index] = []
    estimated_rows: int | None = None
    # PostgreSQL: a partitioned table is one table of the project, its partitions listed here
    # (their changes are published as the table's); legacy INHERITS children are other tables,
    # so this one is read and published with ONLY; an unlogged table never reaches the WAL.
    partitioned: bool = False
    partitions: list[str] = []
    inherited_by: list[str] = []
    unlogged: bool = False

    @property
    def id(self) -> str:
        """The name rules and filters use to refer to the table: `schema.name`."""
        return f"{self.schema_}.{self.name}"

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    def foreign_key(self, name: str) -> ForeignKey:
        for fk in self.foreign_keys:
            if fk.name == name:
                return fk
        raise KeyError(name)


# --- MongoDB model ----------------------------------------------------------------------------


class FieldRule(Strict):
    """Options for one column. A dotted `name` makes a sub-document."""

    include: bool = True
    name: str | None = None
    type: BsonType | None = None
    nulls: Literal["null", "omit"] = "null"


class CalculatedField(Strict):
    """A field computed from the row by a JavaScript expression over `columns["name"]`."""

    name: str
    expression: str
    type: BsonType | None = None
    nulls: Literal["null", "omit"] = "null"


class CustomId(Strict):
    """`_id` from a unique set of columns other than the primary key, or from an expression."""

    columns: list[str] = []
    expression: str | None = None
    type: BsonType | None = None

    @model_validator(mode="after")
    def _one_source(self) -> CustomId:
        if bool(self.columns) == (self.expression is not None):
            raise ValueError("a custom _id takes either columns or an expression")
        return self


class SortKey(Strict):
    column: str
    descending: bool = False


class EmbedRule(Strict):
    """An *Embedded array* (child rows) or *Embedded documents* (the referenced row) rule.

    `foreign_key` names the constraint that links the two tables: for an array it is declared on
    the embedded (child) table, for a document it is declared on the table that embeds.
    """

    kind: Literal["array", "document"]
    table: str
    foreign_key: str
    field: str
    fields: dict[str, FieldRule] = {}
    calculated: list[CalculatedField] = []
    filter: str | None = None
    embeds: list[EmbedRule] = []
    # Embedded array options.
    primitive: str | None = None
    sort: list[SortKey] = []
    limit: Annotated[int, Field(gt=0, le=MAX_ROWS)] | None = None
    # Embedded document option.
    merge: bool = False

    @model_validator(mode="after")
    def _options_fit_kind(self) -> EmbedRule:
        if self.kind == "document" and (self.primitive or self.sort or self.limit):
            raise ValueError("primitive, sort and limit apply to embedded arrays only")
        if self.kind == "array" and self.merge:
            raise ValueError("merge applies to embedded documents only")
        if self.primitive and self.embeds:
            raise ValueError("an array of primitive values cannot embed further tables")
        return self


class CollectionRule(Strict):
    """A *New documents* rule: one document per row of `table` in collection `name`."""

    name: str
    table: str
    id: Literal["objectid", "inherit", "wrap"] | CustomId = "inherit"
    fields: dict[str, FieldRule] = {}
    calculated: list[CalculatedField] = []
    filter: str | None = None
    embeds: list[EmbedRule] = []


class TableFilter(Strict):
    """Snapshot-only filter, as in Relational Migrator: a WHERE clause and/or a row limit."""

    where: str | None = None
    limit: Annotated[int, Field(gt=0, le=MAX_ROWS)] | None = None


# libpq's sslmode names, used for both dialects.
TlsMode = Literal["disable", "prefer", "require", "verify-ca", "verify-full"]


class SourceTls(Strict):
    """TLS to the source, for the queries and the change stream alike. Unset, `mode` keeps the
    drivers' default (libpq and PyMySQL: prefer, that is TLS when offered, unchecked)."""

    mode: TlsMode | None = None
    ca_file: str | None = None  # verify-*: the CA to check the server against
    cert_file: str | None = None  # a client certificate, with key_file
    key_file: str | None = None


class SourceSettings(Strict):
    """Where the source is. The password never lives here: it comes from `password_env`."""

    dialect: Dialect
    host: str = "127.0.0.1"
    port: int | None = None
    database: str
    user: str
    password_env: str = "RELMIG_SOURCE_PASSWORD"
    schemas: list[str] = []
    # PostgreSQL only: where the replication connection (the pgoutput stream) goes when it
    # must take another route than the queries, e.g. a proxy; unset, it follows host/port.
    replication_host: str | None = None
    replication_port: int | None = None
    # PostgreSQL only: a publication the DBA created for the mapped tables. relmig then uses
    # it (and never creates, alters or drops one), so its role needs no table ownership.
    publication: str | None = None
    # Accept a server that asks for the password in clear text (refused by default: a
    # look-alike server would receive it).
    allow_cleartext_password: bool = False
    tls: SourceTls = SourceTls()
    # PostgreSQL only: libpq's require_auth (which authentication methods the server may
    # ask for); unset, relmig's default refuses a clear-text password (see above).
    require_auth: str | None = None


class Project(Strict):
    version: Literal[1] = SCHEMA_VERSION
    name: str
    source: SourceSettings
    tables: list[Table]
    relationships: list[Relationship] = []
    collections: list[CollectionRule] = []
    filters: dict[str, TableFilter] = {}
    # The field casing chosen at import; rules added later use it too.
    casing: Casing | None = None

    def table(self, table_id: str) -> Table:
        for table in self.tables:
            if table.id == table_id:
                return table
        raise KeyError(table_id)

    def link(self, table_id: str, name: str) -> ForeignKey:
        """The foreign key `name` that `table_id` holds: declared, or a synthetic relationship
        whose child is that table. Rules, plans and routing resolve links only here."""
        for rel in self.relationships:
            if rel.name == name and rel.child.table == table_id:
                return rel.as_foreign_key()
        return self.table(table_id).foreign_key(name)

    def links_of(self, table: Table) -> list[ForeignKey]:
        """Every foreign key `table` holds, declared first, then synthetic."""
        synthetic = [r.as_foreign_key() for r in self.relationships if r.child.table == table.id]
        return [*table.foreign_keys, *synthetic]

    def collection(self, name: str) -> CollectionRule:
        for coll in self.collections:
            if coll.name == name:
                return coll
        raise KeyError(name)

    @model_validator(mode="after")
    def _references_resolve(self) -> Project:
        from relmig.project.validate import check_references

        check_references(self)
        return self
