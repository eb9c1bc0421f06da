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
            after = tuple(rows[-1][i] for i in node.key_index)
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
        node = self.plan.node
        docs, problems = _materialize(self.source, node, rows)
        out = []
        for row, doc, found in zip(rows, docs, problems, strict=True):
            key = tuple(row[i] for i in node.key_index)
            ident, flt, key_problems = self._identity(key)
            if ident is not None:
                doc = {"_id": ident, **doc}
            out.append(Built(key, flt, doc, [*key_problems, *(found or ())]))
        return out

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


def _materialize(
    source: SqlSource, node: NodePlan, rows: list[Row]
) -> tuple[list[dict[str, Any]], list[list[Problem] | None]]:
    """Documents for `rows` of `node`, embeddings included, and each one's problems (or None)."""
    docs: list[dict[str, Any]] = []
    problems: list[list[Problem] | None] = []
    for row in rows:
        doc: dict[str, Any] = {}
        found: list[Problem] | None = None
        for f in node.fields:
            value = row[f.index]
            if f.convert is not None and value is not None:
                value = f.convert(value)
                if isinstance(value, Unconvertible):
                    found = found or []
                    found.append(_problem(node, row, f, value))
                    continue
            if value is None and f.omit_null:
                continue
            if len(f.path) == 1:
                doc[f.path[0]] = value
            else:
                _set_path(doc, f.path, value)
        docs.append(doc)
        problems.append(found)
    for link in node.links:
        _embed(source, node, link, rows, docs, problems)
    return docs, problems


def _embed(
    source: SqlSource,
    node: NodePlan,
    link: LinkPlan,
    rows: list[Row],
    docs: list[dict[str, Any]],
    problems: list[list[Problem] | None],
) -> None:
    parent_keys = [tuple(row[i] for i in link.parent_index) for row in rows]
    wanted = list({k for k in parent_keys if None not in k})
    child = link.node
    child_rows = source.rows_matching(
        child.table, child.select_sql, link.match_columns, wanted, child.where
    )
    child_docs, child_problems = (
        _materialize(source, child, child_rows) if link.primitive is None else ([], [])
    )
    groups: dict[Row, list[int]] = {}
    for i, crow in enumerate(child_rows):
        groups.setdefault(tuple(crow[j] for j in link.match_index), []).append(i)
    if link.kind == "array":
        _order_groups(groups, child_rows, child, link)
    for doc, key, pos in zip(docs, parent_keys, range(len(docs)), strict=True):
        members = groups.get(key, []) if None not in key else []
        if link.kind == "array":
            if link.primitive is not None:
                value: Any = _primitive_values(
                    child, link.primitive, child_rows, members, problems, pos
                )
            else:
                value = [child_docs[i] for i in members]
                _adopt(problems, pos, (child_problems[i] for i in members))
        else:
            if not members:
                value = None
            else:
                value = child_docs[members[0]]
                _adopt(problems, pos, [child_problems[members[0]]])
            if link.merge:
                if value:
                    _merge(doc, value)
                continue
        if link.path:
            _set_path(doc, link.path, value)
        elif isinstance(value, dict):
            _merge(doc, value)


def _order_groups(
    groups: dict[Row, list[int]], rows: list[Row], node: NodePlan, link: LinkPlan
) -> None:
    """Sort each array by its sort keys, ties by primary key, then apply the limit.

    Nulls sort last ascending and first descending, as in PostgreSQL's default ordering.
    """
    for key, members in groups.items():
        members.sort(key=lambda i: tuple(rows[i][j] for j in node.key_index))
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


def _set_path(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        nxt = doc.get(part)
        if not isinstance(nxt, dict):
            nxt = doc[part] = {}
        doc = nxt
    doc[path[-1]] = value


def _merge(doc: dict[str, Any], extra: dict[str, Any]) -> None:
    for name, value in extra.items():
        if isinstance(value, dict) and isinstance(doc.get(name), dict):
            _merge(doc[name], value)
        else:
            doc[name] = value
