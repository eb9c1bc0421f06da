"""The expression engine: the sandbox, the value mapping both ways, limits, and one call per
page. No services: QuickJS runs in this process."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest
from bson import Decimal128

from relmig.expressions import sandbox
from relmig.expressions.language import referenced_columns, syntax_problem
from relmig.expressions.program import Program
from relmig.expressions.sandbox import ProgramSource
from relmig.source.values import Unconvertible


def evaluate(expressions: list[str], rows: list[tuple], columns=("a", "b"), filter=False):
    program = Program(
        ProgramSource(tuple(columns), tuple(expressions), filter=filter),
        range(len(columns)),
        [None] * len(columns),
    )
    return program.evaluate(rows)


def test_values_cross_both_ways() -> None:
    when = dt.datetime(2024, 2, 29, 12, 30, 15, 123000)
    [[year, day, number, decimal, blob, nested, big, nan]] = evaluate(
        [
            "columns.a.getUTCFullYear()",
            "columns.a",
            "columns.b * 2",
            "columns.c + 1",
            "columns.d",
            '({list: [1, "x", null], when: columns.a, ok: true})',
            "2 ** 70",
            "columns.e",
        ],
        [(when, 21, Decimal("1.25"), b"\x00\xff", float("nan"))],
        columns=("a", "b", "c", "d", "e"),
    )
    assert (year, day, number, decimal, blob) == (2024, when, 42, 2.25, b"\x00\xff")
    assert nested == {"list": [1, "x", None], "when": when, "ok": True}
    assert big == 2.0**70 and isinstance(big, float)  # a JavaScript number past int64
    assert math.isnan(nan)
    [[dec128]] = evaluate(["columns.a * 2"], [(Decimal128("1.5"),)], columns=("a",))
    assert dec128 == 3


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("undefined", "returned undefined"),
        ("() => 1", "returned a function"),
        ("Symbol('x')", "returned a symbol"),
        ("new Map()", "returned a Map"),
        ("[1, undefined]", "returned undefined, which has no BSON form (at index 1)"),
        ("({a: () => 1})", "returned a function, which has no BSON form (in member 'a')"),
        ("null.x", "threw TypeError"),
        ("10n ** 30n", "outside the int64 range"),
        ("new Date(NaN)", "an invalid Date"),
    ],
)
def test_values_without_a_bson_form_are_failures(expression: str, reason: str) -> None:
    [[value]] = evaluate([expression], [(1, 2)])
    assert isinstance(value, Unconvertible) and reason in value.reason


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("Math.random()", "Math.random() is not available"),
        ("Date.now()", "Date.now() is not available"),
        ("new Date()", "new Date() without arguments is not available"),
        ("typeof std + typeof os + typeof require + typeof fetch", None),
        ("import('std')", "returned a Promise"),  # and no module loads: see the next case
        ("(globalThis.x = 1, typeof globalThis.x)", None),  # the global object is frozen
        ("(Array.prototype.evil = 1, typeof [].evil)", None),  # so are the built-ins
    ],
)
def test_the_sandbox_has_no_clock_randomness_io_or_shared_state(
    expression: str, reason: str | None
) -> None:
    [[value]] = evaluate([expression], [(1, 2)])
    if reason is None:
        assert value.startswith("undefined") and set(value.split("undefined")) == {""}
    else:
        assert isinstance(value, Unconvertible) and reason in value.reason, value


def test_one_call_into_the_engine_per_page(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = sandbox.Sandbox.run
    monkeypatch.setattr(
        sandbox.Sandbox, "run", lambda self, *a: calls.append(a[2]) or original(self, *a)
    )
    rows = [(i, i) for i in range(1000)]
    out = evaluate(["columns.a > 10", "columns.a + columns.b"], rows, filter=True)
    assert calls == [1000]
    assert out[5] == [False] and out[11] == [True, 22]


def test_a_stopped_page_isolates_the_rows_and_expressions_at_fault(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sandbox, "ROW_SECONDS", 0.05)
    monkeypatch.setattr(sandbox, "PAGE_SECONDS", 0.1)
    out = evaluate(
        [
            'columns.a === 1 ? (() => { for (;;) {} })() : "ok"',
            'columns.a === 2 ? "x".repeat(2 ** 27) : "ok"',
            "columns.a * 10",
            'columns.a === 3 ? (function f() { return f() + 1; })() : "ok"',
        ],
        [(0, 0), (1, 0), (2, 0), (3, 0)],
    )
    assert out[0] == ["ok", "ok", 0, "ok"]
    assert "took longer than 0.05 s" in out[1][0].reason and out[1][1:] == ["ok", 10, "ok"]
    assert "out of memory" in out[2][1].reason and out[2][2] == 20
    assert isinstance(out[3][3], Unconvertible) and out[3][2] == 30  # stack overflow
    # The context recovered: the next page runs normally.
    assert evaluate(["columns.a + 1"], [(1, 0)]) == [[2]]


def test_syntax_problems_carry_the_engines_message() -> None:
    assert syntax_problem('columns["a"] + 1') is None
    assert "SyntaxError" in syntax_problem("columns[")
    assert "SyntaxError" in syntax_problem("while (true) {}")  # a statement, not an expression
    assert syntax_problem("1, 2") is None  # the comma operator is one expression
    assert "more than one expression" in syntax_problem("1), (2")


def test_referenced_columns() -> None:
    assert referenced_columns("columns[\"a b\"] + columns['c'] + columns.d") == {"a b", "c", "d"}
    assert referenced_columns("columns[name]") is None
    assert referenced_columns("Object.keys(columns).length") is None
    assert referenced_columns("mycolumns.x + 1") == set()


@pytest.mark.parametrize(
    ("attack", "probe"),
    [
        ("(Array.prototype.map = () => 'x', 1)", "[1, 2].map((v) => v * 2).join()"),
        ("(JSON.stringify = () => 'x', 1)", "JSON.stringify({a: 1})"),
        (
            "(Object.getPrototypeOf([][Symbol.iterator]()).next = () => ({done: true}), 1)",
            "[...[1, 2]].join()",
        ),
        ("(Object.getPrototypeOf(Uint8Array).prototype.join = () => 'x', 1)", "[1, 2].join()"),
        ("(String.prototype.trim.call = () => 'x', 1)", "' a '.trim()"),
        ("(Math.max = () => 0, 1)", "String(Math.max(1, 2))"),
    ],
)
def test_no_expression_changes_what_another_sees(attack: str, probe: str) -> None:
    """Every intrinsic is frozen deeply: another project's expression in the same context
    (a server's thread) gets the built-ins as they were."""
    before = evaluate([probe], [(1, 2)], columns=("x",))
    evaluate([attack], [(1, 2)], columns=("y",))  # fails or does nothing: either way
    assert evaluate([probe], [(1, 2)], columns=("z",)) == before


def test_text_that_closes_the_expression_is_refused_without_effect() -> None:
    """The compile wrapper cannot be closed from the text to add code of its own: refused at
    save (the project validator calls syntax_problem), and what it tried ran into frozen
    built-ins."""
    escape = "0)]; Array.prototype.join = () => 'x'; [(0"
    assert "more than one expression" in syntax_problem(escape)
    assert evaluate(["[1, 2].join()"], [(1, 2)]) == [["1,2"]]
    # Text fitted to the other wrapper breaks the first one: refused as well.
    assert syntax_problem("0) }).f; 1; ({ f: (c) => (0") is not None
