"""The one document builder: complete root documents for a set of root keys, or for all keys.

The snapshot drives it over all keys in key order; CDC drives it with the roots a batch of
changes affects. Either way a document is what a fresh snapshot of that root gives, because it is
always read from the source's current rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from relmig.documents.plan import FieldPlan, LinkPlan, NodePlan, RootPlan
from relmig.documents.rowcode import compile_fields, set_path, tuple_getter
from relmig.source.sql import Row, SqlSource
from relmig.source.values import Converter, Unconvertible


@dataclass(slots=True)
class Problem:
    """A value that could not be mapped, tied to the row it came from.

    A `notice` is a row a mapping-rule filter left out because it gave neither true nor false:
    recorded as an issue, but the document is complete without the row (Relational Migrator's
    semantics), so it does not hold the document back.
    """

    table: str
    key: Row
    field: str
    reason: str
    path: tuple[str, ...] = ()
    notice: bool = False


@dataclass(slots=True)
class Built:
    """A root document with what the target needs to address it, and its problems if any.

    `doc` is None for a root that the collection's filter left out with a notice: there is
    no document, only the issue to record (and, in CDC, a document to delete).

    A root keyed by one column whose value, as read, is its `_id` (the common case) carries
    only that value, `ident`: its key and its filter are made when asked for, which a snapshot
    never does. The two objects per document this spares were a fifth of a flat read+build's CPU,
    most of it in the garbage collector. Any other root carries both in `addressed`.
    """

    doc: dict[str, Any] | None
    problems: Sequence[Problem] = ()  # never changed once built: one empty tuple for all
    # False when the plan rules out every value and field name a target refuses, so the
    # target's screen (`TargetProfile.problems`) need not look at it.
    needs_screen: bool = True
    ident: Any = None
    addressed: tuple[Row, dict[str, Any]] | None = None

    @property
    def key(self) -> Row:
        """The root's primary key as read from the source."""
        return (self.ident,) if self.addressed is None else self.addressed[0]

    @property
    def filter(self) -> dict[str, Any]:
        """How the target addresses the document."""
        return {"_id": self.ident} if self.addressed is None else self.addressed[1]

    @property
    def blocked(self) -> bool:
        """Whether a problem holds the document back (notices do not)."""
        return any(not p.notice for p in self.problems)


@dataclass(slots=True)
class Page:
    built: list[Built]
    last_key: Row | None
    rows: int
    last: bool = False  # no page follows: the scan knows without another query


class DocumentBuilder:
    def __init__(self, plan: RootPlan, source: SqlSource) -> None:
        self.plan = plan
        self.source = source
        # The common case (one key column stored as it is read) skips the general path.
        self._plain_id = plan.id_mode == "inherit" and plan.key_convert == [None]
        self._custom_id = plan.id_mode in ("columns", "expression")
        self._key_of = tuple_getter(plan.node.key_index)
        self._ident_of = itemgetter(plan.node.key_index[0])
        self._code = _NodeCode(plan.node, with_id=plan.id_mode != "objectid")
        self._screen = not plan.plain

    @property
    def collection(self) -> str:
        return self.plan.collection.name

    def scan(
        self, after: Row | None = None, batch_size: int = 1000, *, upto: Row | None = None
    ) -> Iterator[Page]:
        """All roots in key order (those up to `upto`: a key range of a parallel snapshot),
        one keyset page at a time (memory bounded by the page)."""
        node = self.plan.node
        remaining = self.plan.limit
        while remaining is None or remaining > 0:
            size = batch_size if remaining is None else min(batch_size, remaining)
            rows = self.source.scan_page(
                node.table, node.select_sql, node.table.primary_key, after, size, node.where, upto
            )
            if not rows:
                return
            after = self._key_of(rows[-1])
            if remaining is not None:
                remaining -= len(rows)
            last = len(rows) < size or remaining == 0
            yield Page(self._roots(rows), after, len(rows), last)
            if last:
                return

    def build(self, keys: Sequence[Row]) -> list[Built]:
        """The current documents of these roots; a key with no row yields nothing (deleted)."""
        node = self.plan.node
        rows = self.source.rows_matching(
            node.table, node.select_sql, node.table.primary_key, keys, node.where
        )
        return self._roots(rows)

    def filter_for(self, key: Row) -> dict[str, Any]:
        """How the target addresses the root with this key (to delete one that is gone)."""
        return self._identity(key)[1]

    @property
    def address_fields(self) -> list[str]:
        """The dotted fields that hold a stored root's source key."""
        plan = self.plan
        if plan.keyed_by_fields:
            return [".".join(p) for p in plan.key_paths]
        return ["_id"]

    def stored_key(self, key: Row) -> list[Any]:
        """A source key's values as the target stores them (what `address_of` reads back)."""
        return [
            convert(raw) if convert is not None else raw
            for convert, raw in zip(self.plan.key_convert, key, strict=True)
        ]

    def address_of(self, doc: dict[str, Any]) -> list[Any]:
        """A stored root's key values in their stored form, one per key column."""
        plan = self.plan
        if plan.keyed_by_fields:
            values = []
            for path in plan.key_paths:
                node: Any = doc
                for part in path:
                    node = node.get(part) if isinstance(node, dict) else None
                values.append(node)
            return values
        ident = doc.get("_id")
        if plan.id_mode == "inherit":
            return [ident]
        return [ident.get(c) if isinstance(ident, dict) else None for c in plan.key_columns]

    # --- internals ----------------------------------------------------------------------------

    def _roots(self, rows: list[Row]) -> list[Built]:
        code = self._code
        rows, dropped = code.evaluate(rows)
        screen = self._screen
        if self._plain_id:
            ids = list(map(self._ident_of, rows))
            docs, problems = code.materialize(self.source, rows, ids)
            out = [
                Built(d, p or (), screen, i) for i, d, p in zip(ids, docs, problems, strict=True)
            ]
        else:
            keys = list(map(self._key_of, rows))
            identities = [self._identity(k) for k in keys]
            if self._custom_id:
                # The custom `_id` and its problems replace the key's; the filter stays.
                for pos, (k, row) in enumerate(zip(keys, rows, strict=True)):
                    ident, kp = self._custom(k, row)
                    identities[pos] = (ident, identities[pos][1], kp)
            ids = [i for i, _, _ in identities] if code.with_id else None
            docs, problems = code.materialize(self.source, rows, ids)
            if self._custom_id:
                for doc, (ident, _, _) in zip(docs, identities, strict=True):
                    if ident is None:  # none to give: the document is held back by its problem
                        del doc["_id"]
            out = [
                Built(d, [*kp, *(p or ())], screen, addressed=(k, f))
                for k, (_, f, kp), d, p in zip(keys, identities, docs, problems, strict=True)
            ]
        for row, reason in dropped:
            key = self._key_of(row)
            notice = Problem(self.plan.node.table.id, key, "(filter)", reason, notice=True)
            out.append(Built(None, [notice], False, addressed=(key, self._identity(key)[1])))
        return out

    def _custom(self, key: Row, row: Row) -> tuple[Any, list[Problem]]:
        """A custom `_id` (columns or expression); None, with the problem, if it has none."""
        plan = self.plan
        table = plan.node.table.id
        columns = plan.id_columns
        if columns is not None:
            values = []
            for col, index, convert in zip(
                columns.columns, columns.index, columns.convert, strict=True
            ):
                value = row[index]
                if value is None:
                    return None, [Problem(table, key, "_id", f"column {col} is NULL")]
                value = convert(value) if convert is not None else value
                if isinstance(value, Unconvertible):
                    return None, [Problem(table, key, "_id", f"column {col}: {value.reason}")]
                values.append(value)
            ident = (
                values[0] if len(values) == 1 else dict(zip(columns.columns, values, strict=True))
            )
            if columns.type_convert is not None:
                ident = columns.type_convert(ident)
        else:
            computed = plan.node.computed
            assert computed is not None
            ident = computed.id_value(row[len(plan.node.columns) :])
        if isinstance(ident, Unconvertible):
            return None, [Problem(table, key, "_id", f"the _id expression {ident.reason}")]
        if ident is None:
            return None, [Problem(table, key, "_id", "the _id is null")]
        return ident, []

    def _identity(self, key: Row) -> tuple[Any, dict[str, Any], list[Problem]]:
        plan = self.plan
        if self._plain_id:
            return key[0], {"_id": key[0]}, []
        values = self.stored_key(key)
        problems = [
            Problem(plan.node.table.id, key, col, value.reason)
            for col, value in zip(plan.key_columns, values, strict=True)
            if isinstance(value, Unconvertible)
        ]
        if plan.keyed_by_fields:
            flt = {".".join(p): v for p, v in zip(plan.key_paths, values, strict=True)}
            return None, flt, problems
        if plan.id_mode == "inherit":
            ident: Any = values[0]
        else:
            ident = dict(zip(plan.key_columns, values, strict=True))
        return ident, {"_id": ident}, problems


class _NodeCode:
    """A node's generated field code, its embeddings' own, and the key getters they use.

    A node with expressions has them evaluated once per page (`evaluate`): the rows its filter
    keeps come back with their results appended, so that calculated fields are read by the
    generated code like columns, after the mapped ones (`calculated_fields`).
    """

    def __init__(self, node: NodePlan, *, with_id: bool = False) -> None:
        self.node = node
        self.with_id = with_id
        self.fields = compile_fields(
            node, with_id=with_id, problem=self._problem, calculated=calculated_fields(node)
        )
        self.key_of = tuple_getter(node.key_index)
        self.links = [_LinkCode(link) for link in node.links]

    def _problem(self, row: Row, plan: FieldPlan, value: Unconvertible) -> Problem:
        return _problem(self.node, row, plan, value)

    def evaluate(self, rows: list[Row]) -> tuple[list[Row], Sequence[tuple[Row, str]]]:
        """The rows the node's filter keeps, with their expression results appended, and the
        rows it left out with a notice (and why)."""
        computed = self.node.computed
        if computed is None:
            return rows, ()
        evaluated = computed.evaluate(rows)
        kept = [
            (*row, *values) for row, values in zip(evaluated.rows, evaluated.values, strict=True)
        ]
        return kept, evaluated.dropped

    def materialize(
        self, source: SqlSource, rows: list[Row], ids: list[Any] | None = None
    ) -> tuple[list[dict[str, Any]], list[list[Problem] | None]]:
        """Documents for evaluated `rows`, embeddings included, and each one's problems."""
        docs, problems = self.fields(rows, ids)
        for link in self.links:
            link.embed(source, rows, docs, problems)
        return docs, problems


def calculated_fields(node: NodePlan) -> list[FieldPlan]:
    """The node's calculated fields as fields over the results `_NodeCode.evaluate` appends.

    A failed expression, or a result its type override refuses, is a problem of its row like
    a value that cannot be mapped: the field is left out, the error policy decides the rest.
    """
    if node.computed is None:
        return []
    width = len(node.columns)
    return [
        FieldPlan(c.name, width + i, c.path, _expression_value(c.convert), c.omit_null)
        for i, c in enumerate(node.computed.fields)
    ]


def _expression_value(convert: Converter | None) -> Converter:
    def value(result: Any) -> Any:
        if convert is not None and type(result) is not Unconvertible:
            result = convert(result)
        if type(result) is Unconvertible:
            return Unconvertible(f"the expression {result.reason}", result.raw)
        return result

    return value


class _LinkCode:
    def __init__(self, link: LinkPlan) -> None:
        self.link = link
        self.child = _NodeCode(link.node)
        self.parent_of = tuple_getter(link.parent_index)
        self.match_of = tuple_getter(link.match_index)

    def embed(
        self,
        source: SqlSource,
        rows: list[Row],
        docs: list[dict[str, Any]],
        problems: list[list[Problem] | None],
    ) -> None:
        link = self.link
        child = link.node
        parent_keys = list(map(self.parent_of, rows))
        wanted = list({k for k in parent_keys if None not in k})
        child_rows = source.rows_matching(
            child.table, child.select_sql, link.match_columns, wanted, child.where
        )
        child_rows, dropped = self.child.evaluate(child_rows)
        if dropped:
            self._notify_dropped(dropped, parent_keys, problems)
        child_docs, child_problems = (
            self.child.materialize(source, child_rows) if link.primitive is None else ([], [])
        )
        groups: dict[Row, list[int]] = {}
        for i, key in enumerate(map(self.match_of, child_rows)):
            members = groups.get(key)
            if members is None:
                groups[key] = [i]
            else:
                members.append(i)
        if link.kind == "array":
            _order_groups(groups, child_rows, list(map(self.child.key_of, child_rows)), link)
        adopt = any(p is not None for p in child_problems)
        for pos, (doc, key) in enumerate(zip(docs, parent_keys, strict=True)):
            members = groups.get(key, _NONE) if None not in key else _NONE
            if link.kind == "array":
                if link.primitive is not None:
                    value: Any = _primitive_values(
                        child, link.primitive, child_rows, members, problems, pos
                    )
                else:
                    value = [child_docs[i] for i in members]
                    if adopt:
                        _adopt(problems, pos, (child_problems[i] for i in members))
            else:
                if not members:
                    value = None
                else:
                    value = child_docs[members[0]]
                    if adopt:
                        _adopt(problems, pos, [child_problems[members[0]]])
                if link.merge:
                    if value:
                        _merge(doc, value)
                    continue
            if link.path:
                set_path(doc, link.path, value)
            elif isinstance(value, dict):
                _merge(doc, value)

    def _notify_dropped(
        self,
        dropped: Sequence[tuple[Row, str]],
        parent_keys: list[Row],
        problems: list[list[Problem] | None],
    ) -> None:
        """A row the filter dropped with a notice is noted on every document it would be in."""
        table = self.link.node.table.id
        notes: dict[Row, list[Problem]] = {}
        for row, reason in dropped:
            notice = Problem(table, self.child.key_of(row), "(filter)", reason, notice=True)
            notes.setdefault(self.match_of(row), []).append(notice)
        for pos, parent in enumerate(parent_keys):
            if parent in notes:
                _adopt(problems, pos, [notes[parent]])


_NONE: list[int] = []


def _order_groups(
    groups: dict[Row, list[int]], rows: list[Row], keys: list[Row], link: LinkPlan
) -> None:
    """Sort each array by its sort keys, ties by primary key, then apply the limit.

    Nulls sort last ascending and first descending, as in PostgreSQL's default ordering.
    """
    for key, members in groups.items():
        members.sort(key=keys.__getitem__)
        for index, descending in reversed(link.sort):
            members.sort(
                key=lambda i, ix=index: (
                    rows[i][ix] is None,
                    rows[i][ix] if rows[i][ix] is not None else 0,
                ),
                reverse=descending,
            )
        if link.limit is not None:
            groups[key] = members[: link.limit]


def _primitive_values(
    node: NodePlan,
    plan: FieldPlan,
    rows: list[Row],
    members: list[int],
    problems: list[list[Problem] | None],
    pos: int,
) -> list[Any]:
    values = []
    for i in members:
        value = rows[i][plan.index]
        if plan.convert is not None and value is not None:
            value = plan.convert(value)
            if isinstance(value, Unconvertible):
                _adopt(problems, pos, [[_problem(node, rows[i], plan, value)]])
                continue
        if value is None and plan.omit_null:
            continue
        values.append(value)
    return values


def _problem(node: NodePlan, row: Row, plan: FieldPlan, value: Unconvertible) -> Problem:
    key = tuple(row[i] for i in node.key_index)
    return Problem(node.table.id, key, plan.column, value.reason, plan.path)


def _adopt(problems: list[list[Problem] | None], pos: int, found: Any) -> None:
    for items in found:
        if items:
            current = problems[pos]
            if current is None:
                problems[pos] = current = []
            current.extend(items)


def _merge(doc: dict[str, Any], extra: dict[str, Any]) -> None:
    for name, value in extra.items():
        if isinstance(value, dict) and isinstance(doc.get(name), dict):
            _merge(doc[name], value)
        else:
            doc[name] = value
