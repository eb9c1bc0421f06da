"""The one document builder: complete root documents for a set of root keys, or for all keys.

The snapshot drives it over all keys in key order; CDC drives it with the roots a batch of
changes affects. Either way a document is what a fresh snapshot of that root gives, because it is
always read from the source's current rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from relmig.documents.plan import FieldPlan, LinkPlan, NodePlan, RootPlan
from relmig.documents.rowcode import compile_fields, set_path, tuple_getter
from relmig.source.sql import Row, SqlSource
from relmig.source.values import Unconvertible


@dataclass(slots=True)
class Problem:
    """A value that could not be mapped, tied to the row it came from."""

    table: str
    key: Row
    field: str
    reason: str
    path: tuple[str, ...] = ()


@dataclass(slots=True)
class Built:
    """A root document with what the target needs to address it, and its problems if any."""

    key: Row
    filter: dict[str, Any]
    doc: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)
    # False when the plan rules out every value and field name a target refuses, so the
    # target's screen (`TargetProfile.problems`) need not look at it.
    needs_screen: bool = True


@dataclass(slots=True)
class Page:
    built: list[Built]
    last_key: Row | None
    rows: int


class DocumentBuilder:
    def __init__(self, plan: RootPlan, source: SqlSource) -> None:
        self.plan = plan
        self.source = source
        # The common case (one key column stored as it is read) skips the general path.
        self._plain_id = plan.id_mode == "inherit" and plan.key_convert == [None]
        self._key_of = tuple_getter(plan.node.key_index)
        self._code = _NodeCode(plan.node, with_id=plan.id_mode != "objectid")
        self._screen = not plan.plain

    @property
    def collection(self) -> str:
        return self.plan.collection.name

    def scan(self, after: Row | None = None, batch_size: int = 1000) -> Iterator[Page]:
        """All roots in key order, one keyset page at a time (memory bounded by the page)."""
        node = self.plan.node
        remaining = self.plan.limit
        while remaining is None or remaining > 0:
            size = batch_size if remaining is None else min(batch_size, remaining)
            rows = self.source.scan_page(
                node.table, node.select_sql, node.table.primary_key, after, size, node.where
            )
            if not rows:
                return
            after = self._key_of(rows[-1])
            if remaining is not None:
                remaining -= len(rows)
            yield Page(self._roots(rows), after, len(rows))
            if len(rows) < size:
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

    # --- internals ----------------------------------------------------------------------------

    def _roots(self, rows: list[Row]) -> list[Built]:
        keys = list(map(self._key_of, rows))
        screen = self._screen
        if self._plain_id:
            ids = [k[0] for k in keys]
            docs, problems = self._code.materialize(self.source, rows, ids)
            return [
                Built(k, {"_id": i}, d, p or [], screen)
                for k, i, d, p in zip(keys, ids, docs, problems, strict=True)
            ]
        identities = [self._identity(k) for k in keys]
        ids = [i for i, _, _ in identities] if self._code.with_id else None
        docs, problems = self._code.materialize(self.source, rows, ids)
        return [
            Built(k, f, d, [*kp, *(p or ())], screen)
            for k, (_, f, kp), d, p in zip(keys, identities, docs, problems, strict=True)
        ]

    def _identity(self, key: Row) -> tuple[Any, dict[str, Any], list[Problem]]:
        plan = self.plan
        if self._plain_id:
            return key[0], {"_id": key[0]}, []
        values = []
        problems = []
        for col, convert, raw in zip(plan.key_columns, plan.key_convert, key, strict=True):
            value = convert(raw) if convert is not None else raw
            if isinstance(value, Unconvertible):
                problems.append(Problem(plan.node.table.id, key, col, value.reason))
            values.append(value)
        if plan.id_mode == "objectid":
            flt = {".".join(p): v for p, v in zip(plan.key_paths, values, strict=True)}
            return None, flt, problems
        if plan.id_mode == "inherit":
            ident: Any = values[0]
        else:
            ident = dict(zip(plan.key_columns, values, strict=True))
        return ident, {"_id": ident}, problems


class _NodeCode:
    """A node's generated field code, its embeddings' own, and the key getters they use."""

    def __init__(self, node: NodePlan, *, with_id: bool = False) -> None:
        self.node = node
        self.with_id = with_id
        self.fields = compile_fields(node, with_id=with_id, problem=self._problem)
        self.key_of = tuple_getter(node.key_index)
        self.links = [_LinkCode(link) for link in node.links]

    def _problem(self, row: Row, plan: FieldPlan, value: Unconvertible) -> Problem:
        return _problem(self.node, row, plan, value)

    def materialize(
        self, source: SqlSource, rows: list[Row], ids: list[Any] | None = None
    ) -> tuple[list[dict[str, Any]], list[list[Problem] | None]]:
        """Documents for `rows`, embeddings included, and each one's problems (or None)."""
        docs, problems = self.fields(rows, ids)
        for link in self.links:
            link.embed(source, rows, docs, problems)
        return docs, problems


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
