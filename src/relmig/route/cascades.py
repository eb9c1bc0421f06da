"""Route the child rows a MariaDB cascade changed without a binlog event.

When a parent row is deleted or its key changes, InnoDB deletes, re-keys or nulls the child rows
of every cascading foreign key (`relmig.project.cascades`) and logs none of it. The documents
that held those children are found here from the parent's change alone:

- before: the child rows are gone from the source (or no longer carry the parent's old key),
  so the target is asked which documents hold a child with the old key, in every collection
  that maps the child (its own, or an array under a root elsewhere). A collection where the
  child sits under that same parent by that same key needs no lookup: the parent's own change
  reaches those roots.
- after (ON UPDATE CASCADE): the source's current child rows with the new key are changes like
  any other, so the router sends them wherever the child is mapped.

Each step down is followed the same way, so a cascade that goes on to grandchildren (a composite
key passed down two levels) is followed too; where only part of a grandchild's key is known,
the target is searched by that part. Every root found is recomputed from the source like any
other, so deleted children leave, re-keyed ones move, and a root found needlessly is rewritten
as it is.

The target must hold every earlier change when it is asked: embedded mode applies in order;
Kafka mode's source task waits for the sinks first (`Router.reads_target`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import bson
from bson import Binary, Decimal128, Int64

from relmig.documents.builder import DocumentBuilder
from relmig.documents.plan import FieldPlan, NodePlan, RootPlan, compile_collection
from relmig.project.cascades import Cascade, binlog_cascades
from relmig.project.model import FkAction, Project, Table
from relmig.route.placement import Placement, placements_of
from relmig.source.changes import UNCHANGED, Image, RowChange
from relmig.source.connect import open_source
from relmig.source.sql import Row, SqlSource
from relmig.source.values import Converter, Unconvertible

Roots = dict[str, set[Row]]


class DocumentLookup(Protocol):
    def find(self, collection: str, query: dict[str, Any], fields: Sequence[str]) -> list[Any]:
        """Documents matching `query`, with `_id` and the dotted `fields` only."""
        ...


@dataclass(frozen=True, slots=True)
class _Site:
    """A child's rows in one collection, and how a query there names the cascade's columns."""

    placement: Placement
    paths: tuple[str, ...]
    converts: tuple[Converter | None, ...]


class CascadeRouter:
    def __init__(
        self,
        cascades: Sequence[Cascade],
        placements: dict[str, list[Placement]],
        builders: dict[str, DocumentBuilder],
        source: SqlSource,
        tables: dict[str, Table],
        target: DocumentLookup,
        unfollowed: Callable[[str, str, str], None],
    ) -> None:
        """`unfollowed(collection, table, reason)` records what a cascade could not reach."""
        self.builders = builders
        self.source = source
        self.tables = tables
        self.target = target
        self.unfollowed = unfollowed
        self.by_parent: dict[str, list[Cascade]] = {}
        self.sites: dict[Cascade, list[_Site | Unfollowable]] = {}
        for cascade in cascades:
            self.by_parent.setdefault(cascade.parent, []).append(cascade)
            self.sites[cascade] = [
                site
                for _, site in sites(cascade, placements, {c: b.plan for c, b in builders.items()})
                if site is not None
            ]

    def reaches(self, change: RowChange) -> bool:
        """Whether the change sets off a followed cascade (so routing it reads the target)."""
        return any(
            _step(c, change.before, change.after, None) is not None
            for c in self.by_parent.get(change.table, ())
        )

    def expand(self, change: RowChange) -> tuple[list[RowChange], Roots]:
        """The child rows a parent's change rewrote under new keys (changes to route like real
        ones), and the roots found in the target that held the rows it deleted or re-keyed.

        A step down is a pattern: the child's columns whose old values are known (all of them
        from a real parent change; fewer further down, when a grandchild's key is only partly
        the child's cascaded columns). The target is searched by what is known, which can only
        find more roots than changed: each is recomputed from the source, so that is safe.
        """
        implied: list[RowChange] = []
        roots: Roots = {}
        # (table, known old values or None, new values or None when gone, columns that changed)
        work: list[tuple[str, Image | None, Image | None, set[str] | None]] = [
            (change.table, change.before, change.after, None)
        ]
        seen: set[tuple[Cascade, frozenset[tuple[str, Any]]]] = set()
        while work:
            table, before, after, changed = work.pop()
            for cascade in self.by_parent.get(table, ()):
                step = _step(cascade, before, after, changed)
                if step is None:
                    continue
                action, old, new = step
                gone = action == "CASCADE" and after is None
                if old and (cascade, frozenset(old.items())) not in seen:
                    seen.add((cascade, frozenset(old.items())))
                    self._held(cascade, old, roots)
                    child_after = None if gone else _child_after(cascade, action, new)
                    work.append(
                        (cascade.child, old, child_after, None if gone else set(cascade.columns))
                    )
                if action == "CASCADE" and new is not None:
                    for row in self._rows(cascade, new):
                        implied.append(RowChange(cascade.child, "u", None, row))
                        work.append((cascade.child, None, row, set(cascade.columns)))
        return implied, roots

    def _held(self, cascade: Cascade, old: Image, roots: Roots) -> None:
        """Add the roots whose documents hold child rows with the `old` values."""
        for site in self.sites[cascade]:
            if isinstance(site, Unfollowable):
                self.unfollowed(site.collection, cascade.child, f"{cascade.describe()}: {site}")
                continue
            collection = site.placement.collection
            builder = self.builders[collection]
            query = {
                path: value if convert is None else convert(value)
                for column, path, convert in zip(
                    cascade.columns, site.paths, site.converts, strict=True
                )
                if column in old
                for value in (old[column],)
            }
            for doc in self.target.find(collection, query, builder.address_fields):
                key = _source_key(builder, doc)
                if key is None:
                    self.unfollowed(
                        collection,
                        cascade.child,
                        f"{cascade.describe()}: the document {doc.get('_id')!r} has a key this "
                        "source cannot be queried with; it may keep a child the cascade changed",
                    )
                    continue
                roots.setdefault(collection, set()).add(key)

    def _rows(self, cascade: Cascade, new: Row) -> list[Image]:
        """The child's current rows under the parent's new key."""
        src = self.source
        table = self.tables[cascade.child]
        columns = [c.name for c in table.columns]
        predicate, params = src.in_predicate(list(cascade.columns), [new])
        rows = src.fetch(
            f"SELECT {', '.join(src.quote(c) for c in columns)} FROM {src.relation(table)} "
            f"WHERE {predicate}",
            params,
        )
        return [dict(zip(columns, r, strict=True)) for r in rows]


@dataclass(frozen=True, slots=True)
class Unfollowable:
    collection: str
    reason: str

    def __str__(self) -> str:
        return f"cannot be followed in {self.collection}: {self.reason}"


def sites(
    cascade: Cascade, placements: dict[str, list[Placement]], plans: dict[str, RootPlan]
) -> list[tuple[Placement, _Site | Unfollowable | None]]:
    """Each place the cascade's child sits, with how its rows there are found: a site to query
    in the target; None where the child sits under the cascade's parent by the cascade's own
    key (the parent's change reaches those roots itself); or why they cannot be found."""
    return [
        (p, None if _under(p, cascade) else _site(p, cascade, plans[p.collection]))
        for p in placements.get(cascade.child, ())
    ]


def describe(
    cascades: Sequence[Cascade], placements: dict[str, list[Placement]], plans: dict[str, RootPlan]
) -> list[tuple[str, bool]]:
    """A line per cascade and collection for `relmig check` and `analyze`, and whether relmig
    follows it there."""
    lines = []
    for cascade in cascades:
        for placement, site in sites(cascade, placements, plans):
            where = placement.collection
            if site is None:
                lines.append(
                    (f"{cascade.describe()}: in {where}, through the parent's change", True)
                )
            elif isinstance(site, Unfollowable):
                lines.append((f"{cascade.describe()}: {site}", False))
            else:
                fields = ", ".join(site.paths)
                lines.append((f"{cascade.describe()}: in {where}, found by {fields}", True))
    return lines


def _under(placement: Placement, cascade: Cascade) -> bool:
    if not placement.chain:
        return False
    parent, link = placement.chain[-1]
    return parent.table.id == cascade.parent and tuple(link.match_columns) == cascade.columns


def _site(placement: Placement, cascade: Cascade, plan: RootPlan) -> _Site | Unfollowable:
    prefix: list[str] = []
    for _, link in placement.chain:
        if link.primitive is not None:
            return Unfollowable(
                placement.collection, f"{cascade.child} is an array of single values there"
            )
        if link.path and not link.merge:
            prefix += link.path
    paths, converts = [], []
    in_id = {} if placement.chain or plan.keyed_by_fields else _id_fields(plan)
    for column in cascade.columns:
        if column in in_id:
            path, convert = in_id[column]
            paths.append(path)
            converts.append(convert)
            continue
        field = _field(placement.node, column)
        if field is None:
            return Unfollowable(
                placement.collection,
                f"column {column} of {cascade.child} is not in its documents (map it as a field)",
            )
        paths.append(".".join((*prefix, *field.path)))
        converts.append(field.convert)
    return _Site(placement, tuple(paths), tuple(converts))


def _id_fields(plan: RootPlan) -> dict[str, tuple[str, Converter | None]]:
    """Key column → where `_id` holds it (the whole `_id`, or a field of a composite one)."""
    if plan.id_mode == "inherit":
        return {plan.key_columns[0]: ("_id", plan.key_convert[0])}
    return {
        c: (f"_id.{c}", convert)
        for c, convert in zip(plan.key_columns, plan.key_convert, strict=True)
    }


def _field(node: NodePlan, column: str) -> FieldPlan | None:
    return next((f for f in node.fields if f.column == column), None)


def _step(
    cascade: Cascade, before: Image | None, after: Image | None, changed: set[str] | None
) -> tuple[FkAction, Image, Row | None] | None:
    """(the action, the child's known old values by child column, the parent's new key when
    known) where the cascade acts on this parent change; None where it does not.

    `changed`: the parent columns a cascade rewrote (None: any, as for a real change)."""
    action = cascade.acts_on("d" if after is None else "u")
    if action is None or (changed is not None and changed.isdisjoint(cascade.ref_columns)):
        return None
    old = {
        column: before[ref]
        for column, ref in zip(cascade.columns, cascade.ref_columns, strict=True)
        if before is not None and _known(before.get(ref, UNCHANGED))
    }
    new = None
    if after is not None:
        values = tuple(after.get(ref, UNCHANGED) for ref in cascade.ref_columns)
        new = values if all(_known(v) for v in values) else None
        if new is not None and len(old) == len(new) and tuple(old.values()) == new:
            return None  # the parent's key did not change
    if not old and new is None:
        return None
    return action, old, new


def _known(value: Any) -> bool:
    return value is not None and value is not UNCHANGED and type(value) is not Unconvertible


def _child_after(cascade: Cascade, action: FkAction, new: Row | None) -> Image:
    """The child's cascaded columns after the action (SET DEFAULT's value is not known here:
    UNCHANGED, which routes nowhere and stops the cascade)."""
    if action == "CASCADE" and new is not None:
        return dict(zip(cascade.columns, new, strict=True))
    value = None if action == "SET NULL" else UNCHANGED
    return dict.fromkeys(cascade.columns, value)


def _source_key(builder: DocumentBuilder, doc: dict[str, Any]) -> Row | None:
    """The source key of a stored root, checked by addressing it again; None when the stored
    form does not lead back to the source's value."""
    stored = builder.address_of(doc)
    key = tuple(_source_value(v) for v in stored)
    if bson.encode({"k": builder.stored_key(key)}) != bson.encode({"k": stored}):
        return None
    return key


def _source_value(value: Any) -> Any:
    """A stored key value as the MySQL-dialect source takes it in a query."""
    if isinstance(value, Decimal128):
        return value.to_decimal()
    if isinstance(value, Binary) and value.subtype == 4:
        return str(uuid.UUID(bytes=bytes(value)))
    if isinstance(value, Binary | bytes):
        return bytes(value)
    if isinstance(value, Int64):
        return int(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def cascade_report(project: Project, source: SqlSource) -> list[tuple[str, bool]]:
    """What `relmig check` and `analyze` say about the project's unlogged cascades."""
    cascades = binlog_cascades(project)
    if not cascades:
        return []
    plans = {
        c.name: compile_collection(project, c, source, filters=False) for c in project.collections
    }
    return describe(cascades, placements_of(list(plans.values())), plans)


def followed_cascades(project: Project, password: str | None) -> list[tuple[str, bool]]:
    """`cascade_report` over a connection of its own (for `relmig check`)."""
    if not binlog_cascades(project):
        return []
    source = open_source(project.source, password)
    try:
        return cascade_report(project, source)
    finally:
        source.close()
