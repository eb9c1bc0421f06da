"""The snapshot filter check (relmig.project.filters): one condition on the row, or a message."""

from __future__ import annotations

import pytest

from relmig.project.filters import filter_problem
from relmig.project.model import Column, Project, SourceSettings, Table, TableFilter

TABLE = Table(
    schema="public",
    name="customers",
    columns=[Column(name=n, type="text") for n in ("customer_id", "country", "name", "freight")],
    primary_key=["customer_id"],
)


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
@pytest.mark.parametrize(
    "where",
    [
        "country = 'Germany'",
        "(freight > 1 OR name IS NULL) AND NOT country = 'x'",
        "lower(name) LIKE 'a%'",
        "customers.freight BETWEEN 1 AND 2",
        "country IN ('a', 'b')",
        "COALESCE(country, '') <> ''",
    ],
)
def test_conditions_on_the_row_pass(where: str, dialect: str) -> None:
    assert filter_problem(where, TABLE, dialect) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
@pytest.mark.parametrize(
    ("where", "why"),
    [
        ("1=1); DROP TABLE x; SELECT (1", "not a SQL condition"),
        ("1=1; create table x(a int)", "one condition, not several statements"),
        ("country = ", "not a SQL condition"),
        ("freight + 1", "must be a condition"),
        ("nextval('s') > 0", "calls nextval()"),
        ("set_config('a', 'b', false) = 'b'", "calls set_config()"),
        ("pg_sleep(10) IS NULL", "calls pg_sleep()"),
        ("pg_read_file('/etc/passwd') = ''", "calls pg_read_file()"),
        ("lo_import('/etc/passwd') > 0", "calls lo_import()"),
        ("dblink_exec('x', 'y') = ''", "calls dblink_exec()"),
        ("sleep(1) = 0", "calls sleep()"),
        ("benchmark(1000000, md5('a')) = 0", "calls benchmark()"),
        ("load_file('/etc/passwd') IS NULL", "calls load_file()"),
        ("get_lock('a', 10) = 1", "calls get_lock()"),
        ("freight > 100 AND country IN (SELECT 1)", "a subquery"),
        ("EXISTS (SELECT 1 FROM orders)", "a subquery"),
        ("o.freight > 1", "another table"),
        ("nosuchcol > 1", "has no column nosuchcol"),
    ],
)
def test_anything_else_is_refused_with_the_reason(where: str, why: str, dialect: str) -> None:
    problem = filter_problem(where, TABLE, dialect)  # type: ignore[arg-type]
    assert problem is not None and why in problem, problem


def test_the_project_validator_checks_every_filter() -> None:
    source = SourceSettings(dialect="postgresql", database="d", user="u", schemas=["public"])
    with pytest.raises(ValueError, match=r"filters.public.customers.where: calls pg_sleep\(\)"):
        Project(
            name="p",
            source=source,
            tables=[TABLE],
            filters={"public.customers": TableFilter(where="pg_sleep(5) IS NULL")},
        )
