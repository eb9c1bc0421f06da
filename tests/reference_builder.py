"""The document builder as it was before its row code was generated: the reference the
builder must match, document for document, key order and problems included.

This is relmig.documents.builder at commit 4272a56 (issue 11 merged: calculated fields,
filters, custom `_id`), with a field loop per row, kept verbatim as the oracle of
tests/snapshot/test_builder_oracle.py; only `scan` is left out (the test feeds it the rows the
builder read), and `Built` is made in its later form (key and filter as `addressed`). Do not
"fix" it to match the builder: a difference is what the test exists to find.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from relmig.documents.builder import Built, Problem
from relmig.documents.computed import Evaluated
from relmig.documents.plan import FieldPlan, LinkPlan, NodePlan, RootPlan
from relmig.source.sql import Row, SqlSource
from relmig.source.values import Unconvertible


class ReferenceBuilder:
    def __init__(self, plan: RootPlan, source: SqlSource) -> None:
        self.plan = plan
        self.source = source
        # The common case (one key column stored as it is read) skips the general path.
        self._plain_id = plan.id_mode == "inherit" and plan.key_convert == [None]
        self._custom_id = plan.id_mode in ("columns", "expression")

    def build(self, keys: Sequence[Row]) -> list[Built]:
        """The current documents of these roots; a key with no row yields nothing (deleted)."""
        node = self.plan.node
        rows = self.source.rows_matching(
            node.table, node.select_sql, node.table.primary_key, keys, node.where
        )
        return self.roots(rows)

    def roots(self, rows: list[Row]) -> list[Built]:
        node = self.plan.node
        evaluated = _evaluate(node, rows)
        if evaluated is not None:
            rows = evaluated.rows
        docs, problems = _materialize(self.source, node, rows, evaluated)
        out = []
        for pos, (row, doc, found) in enumerate(zip(rows, docs, problems, strict=True)):
            key = tuple(row[i] for i in node.key_index)
            ident, flt, key_problems = self._identity(key)
            if self._custom_id:
                ident, key_problems = self._custom(key, row, evaluated, pos)
            if ident is not None:
                doc = {"_id": ident, **doc}
            out.append(Built(doc, [*key_problems, *(found or ())], addressed=(key, flt)))
        if evaluated is not None:
            for row, reason in evaluated.dropped:
                key = tuple(row[i] for i in node.key_index)
                notice = Problem(node.table.id, key, "(filter)", reason, notice=True)
                out.append(Built(None, [notice], addressed=(key, self._identity(key)[1])))
        return out

    def _custom(
        self, key: Row, row: Row, evaluated: Evaluated | None, pos: int
    ) -> tuple[Any, list[Problem]]:
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
            assert evaluated is not None and plan.node.computed is not None
            ident = plan.node.computed.id_value(evaluated.values[pos])
        if isinstance(ident, Unconvertible):
            return None, [Problem(table, key, "_id", f"the _id expression {ident.reason}")]
        if ident is None:
            return None, [Problem(table, key, "_id", "the _id is null")]
        return ident, []

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
        if plan.keyed_by_fields:
            flt = {".".join(p): v for p, v in zip(plan.key_paths, values, strict=True)}
            return None, flt, problems
        if plan.id_mode == "inherit":
            ident: Any = values[0]
        else:
            ident = dict(zip(plan.key_columns, values, strict=True))
        return ident, {"_id": ident}, problems


def _evaluate(node: NodePlan, rows: list[Row]) -> Evaluated | None:
    """The node's expressions on a page of its rows (one call into the engine), or None when
    the node has none."""
    return node.computed.evaluate(rows) if node.computed is not None else None


def _materialize(
    source: SqlSource, node: NodePlan, rows: list[Row], evaluated: Evaluated | None = None
) -> tuple[list[dict[str, Any]], list[list[Problem] | None]]:
    """Documents for `rows` of `node`, embeddings included, and each one's problems (or None).

    `evaluated` holds the rows' expression results when the node has expressions."""
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
    if evaluated is not None:
        _calculated(node, rows, evaluated, docs, problems)
    for link in node.links:
        _embed(source, node, link, rows, docs, problems)
    return docs, problems


def _calculated(
    node: NodePlan,
    rows: list[Row],
    evaluated: Evaluated,
    docs: list[dict[str, Any]],
    problems: list[list[Problem] | None],
) -> None:
    """Set the calculated fields; a failed expression is a problem of its row, like a value
    that cannot be mapped (the field is left out, the error policy decides the rest)."""
    computed = node.computed
    assert computed is not None
    for pos, (row, doc, result) in enumerate(zip(rows, docs, evaluated.values, strict=True)):
        for plan, value in zip(computed.fields, result, strict=False):
            if plan.convert is not None and value is not None and type(value) is not Unconvertible:
                value = plan.convert(value)
            if type(value) is Unconvertible:
                key = tuple(row[i] for i in node.key_index)
                reason = f"the expression {value.reason}"
                _adopt(problems, pos, [[Problem(node.table.id, key, plan.name, reason, plan.path)]])
                continue
            if value is None and plan.omit_null:
                continue
            if len(plan.path) == 1:
                doc[plan.name] = value
            else:
                _set_path(doc, plan.path, value)


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
    evaluated = _evaluate(child, child_rows)
    if evaluated is not None:
        child_rows = evaluated.rows
        _notify_dropped(child, link, evaluated, parent_keys, problems)
    child_docs, child_problems = (
        _materialize(source, child, child_rows, evaluated) if link.primitive is None else ([], [])
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


def _notify_dropped(
    child: NodePlan,
    link: LinkPlan,
    evaluated: Evaluated,
    parent_keys: list[Row],
    problems: list[list[Problem] | None],
) -> None:
    """A row the filter dropped with a notice is noted on every document it would be in."""
    if not evaluated.dropped:
        return
    notes: dict[Row, list[Problem]] = {}
    for row, reason in evaluated.dropped:
        key = tuple(row[i] for i in child.key_index)
        notice = Problem(child.table.id, key, "(filter)", reason, notice=True)
        notes.setdefault(tuple(row[j] for j in link.match_index), []).append(notice)
    for pos, parent in enumerate(parent_keys):
        if parent in notes:
            _adopt(problems, pos, [notes[parent]])


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
