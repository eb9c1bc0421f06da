"""Schema drift between a project's table and the source's current one (pure logic)."""

from __future__ import annotations

from relmig.project.model import Column, Table
from relmig.source.drift import COLUMN_GONE, NEW_COLUMN, TABLE_GONE, TYPE_CHANGED, compare


def table(*columns: tuple[str, str]) -> Table:
    return Table(
        schema="public",
        name="books",
        columns=[Column(name=n, type=t) for n, t in columns],
        primary_key=["id"],
    )


def test_each_kind_of_drift_and_which_ones_break() -> None:
    wanted = table(("id", "integer"), ("title", "varchar(40)"), ("author", "varchar(40)"))
    now = table(("id", "bigint"), ("title", "varchar(40)"), ("isbn", "varchar(20)"))
    found = {(d.kind, d.column, d.breaking) for d in compare(wanted, now)}
    assert found == {
        (TYPE_CHANGED, "id", True),
        (COLUMN_GONE, "author", True),
        (NEW_COLUMN, "isbn", False),
    }
    [new] = [d for d in compare(wanted, now) if not d.breaking]
    assert new.text().startswith("public.books has a new column isbn (varchar(20)), not in the")


def test_a_table_gone_and_one_unchanged() -> None:
    wanted = table(("id", "integer"))
    assert [(d.kind, d.breaking) for d in compare(wanted, None)] == [(TABLE_GONE, True)]
    assert compare(wanted, table(("id", "integer"))) == []
