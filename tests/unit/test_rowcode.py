"""The generated row → document code: every field rule as the builder defines it, key order too.

Documents are compared as lists of items, recursively, because key order is part of what a
document is (BSON keeps it) and the generated code builds a dict literal, then deletes.
"""

from __future__ import annotations

from typing import Any

from relmig.documents.plan import FieldPlan, NodePlan
from relmig.documents.rowcode import compile_fields, tuple_getter
from relmig.project.model import Column, Table
from relmig.source.values import Unconvertible

TABLE = Table(schema="s", name="t", columns=[Column(name="id", type="int")], primary_key=["id"])
BAD = Unconvertible("cannot", "x")


def _node(*fields: FieldPlan) -> NodePlan:
    return NodePlan(TABLE, "", [], [0], list(fields))


def _field(index: int, path: str, convert: Any = None, omit: bool = False) -> FieldPlan:
    return FieldPlan(path, index, tuple(path.split(".")), convert, omit)


def _items(doc: Any) -> Any:
    if isinstance(doc, dict):
        return [(k, _items(v)) for k, v in doc.items()]
    return doc


def _run(node: NodePlan, rows: list[tuple[Any, ...]], ids: list[Any] | None = None) -> Any:
    found: list[tuple[Any, ...]] = []

    def problem(row: Any, field: FieldPlan, value: Unconvertible) -> tuple[Any, ...]:
        found.append((row[0], field.column, value.reason))
        return (row[0], field.column)

    docs, problems = compile_fields(node, with_id=ids is not None, problem=problem)(rows, ids)
    return [_items(d) for d in docs], problems, found


def test_plain_fields_in_order_after_the_id() -> None:
    node = _node(_field(1, "b"), _field(2, "a"), _field(3, "c"))
    docs, problems, _ = _run(node, [(1, "x", 2, None)], ids=[1])
    assert docs == [[("_id", 1), ("b", "x"), ("a", 2), ("c", None)]]
    assert problems == [None]


def test_converter_runs_on_values_only_and_bad_values_are_left_out_as_problems() -> None:
    calls: list[Any] = []

    def convert(v: Any) -> Any:
        calls.append(v)
        return BAD if v == "bad" else v * 2

    node = _node(_field(1, "a"), _field(2, "b", convert), _field(3, "c"))
    docs, problems, found = _run(node, [(1, 1, "bad", 3), (2, 1, None, 3), (3, 1, 5, 3)])
    assert docs == [
        [("a", 1), ("c", 3)],
        [("a", 1), ("b", None), ("c", 3)],
        [("a", 1), ("b", 10), ("c", 3)],
    ]
    assert calls == ["bad", 5]  # never called on NULL
    assert problems == [[(1, "b")], None, None]
    assert found == [(1, "b", "cannot")]


def test_omitted_nulls_keep_the_order_of_the_rest() -> None:
    node = _node(_field(1, "a", omit=True), _field(2, "b"), _field(3, "c", omit=True))
    docs, _, _ = _run(node, [(1, None, 2, None), (2, 1, 2, 3)], ids=["x", "y"])
    assert docs == [
        [("_id", "x"), ("b", 2)],
        [("_id", "y"), ("a", 1), ("b", 2), ("c", 3)],
    ]


def test_dotted_paths_make_sub_documents_where_their_first_present_field_is() -> None:
    node = _node(
        _field(1, "a"),
        _field(2, "ship.city", omit=True),
        _field(3, "z"),
        _field(4, "ship.country"),
        _field(5, "w", omit=True),
    )
    docs, _, _ = _run(node, [(1, 1, "Oslo", 2, "NO", None), (2, 1, None, 2, "NO", 9)])
    assert docs == [
        [("a", 1), ("ship", [("city", "Oslo"), ("country", "NO")]), ("z", 2)],
        [("a", 1), ("z", 2), ("ship", [("country", "NO")]), ("w", 9)],
    ]


def test_problems_are_in_field_order_across_literal_and_dotted_fields() -> None:
    def bad(v: Any) -> Any:
        return BAD

    node = _node(_field(1, "a", bad), _field(2, "p.q", bad), _field(3, "c", bad))
    docs, problems, _ = _run(node, [(7, 1, 2, 3)])
    assert docs == [[]]
    assert problems == [[(7, "a"), (7, "p.q"), (7, "c")]]


def test_no_fields_and_tuple_keys() -> None:
    docs, problems, _ = _run(_node(), [(1,), (2,)], ids=[1, 2])
    assert docs == [[("_id", 1)], [("_id", 2)]]
    assert problems == [None, None]
    assert tuple_getter([2])((0, 1, 2)) == (2,)
    assert tuple_getter([2, 0])((0, 1, 2)) == (2, 0)
