"""The query converter's logic, on the sample database's imported project (no server).

What the pipelines do is proven by tests/queries (both run, answers compared); these pin the
semantics that are easy to get wrong: three-valued logic, LIKE, NULL ordering per dialect,
division per dialect, and the refusals with their place in the text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bson
import pytest
from bson.regex import Regex

from relmig.project.file import load_project
from relmig.project.model import Project
from relmig.queries.answers import statements_of
from relmig.queries.conditions import NEVER, Param
from relmig.queries.convert import Conversion, convert
from relmig.queries.refusal import CannotConvert
from relmig.queries.render import render
from relmig.queries.scope import Capabilities

NORTHWIND = Path(__file__).parent / "data" / "northwind.yaml"
BINARY = Capabilities(binary_strings=True, collation="C")


@pytest.fixture(scope="module")
def project() -> Project:
    return load_project(NORTHWIND)


def mysql(project: Project) -> Project:
    source = project.source.model_copy(update={"dialect": "mysql"})
    return project.model_copy(update={"source": source})


def match(conversion: Conversion) -> dict[str, Any]:
    found = [s["$match"] for s in conversion.pipeline if "$match" in s]
    assert found, conversion.pipeline
    return found[0]


def refusal(project: Project, sql: str, **kw: Any) -> str:
    with pytest.raises(CannotConvert) as caught:
        convert(project, sql, **kw)
    return str(caught.value)


# --- three-valued logic -------------------------------------------------------------------------


def test_not_keeps_no_row_where_the_condition_is_unknown(project: Project) -> None:
    got = match(convert(project, "SELECT order_id FROM orders WHERE NOT (approved_by > 3)"))
    assert got == {"approvedBy": {"$lte": 3}}  # $lte matches no null, as SQL keeps none


def test_not_equal_excludes_null_which_ne_alone_would_match(project: Project) -> None:
    got = match(convert(project, "SELECT order_id FROM orders WHERE approved_by <> 3"))
    assert got == {"approvedBy": {"$nin": [3, None]}}


def test_comparisons_with_null_match_nothing_either_way(project: Project) -> None:
    for sql in ("approved_by = NULL", "NOT (approved_by = NULL)", "approved_by <> NULL"):
        got = match(convert(project, f"SELECT order_id FROM orders WHERE {sql}"))
        assert got == NEVER, sql


def test_not_in_a_list_holding_null_is_never_true(project: Project) -> None:
    got = match(convert(project, "SELECT order_id FROM orders WHERE order_id NOT IN (1, NULL)"))
    assert got == NEVER
    got = match(convert(project, "SELECT order_id FROM orders WHERE order_id IN (1, NULL)"))
    assert got == {"_id": {"$in": [1]}}


def test_not_of_an_or_is_the_and_of_the_false_sides(project: Project) -> None:
    sql = "SELECT order_id FROM orders WHERE NOT (approved_by IS NULL OR approved_by < 4)"
    got = match(convert(project, sql))
    assert got == {"$and": [{"approvedBy": {"$ne": None}}, {"approvedBy": {"$gte": 4}}]}


def test_literals_take_the_columns_stored_form(project: Project) -> None:
    got = match(convert(project, "SELECT order_id FROM orders WHERE order_date >= '2023-01-01'"))
    value = got["orderDate"]["$gte"]
    assert value.year == 2023 and value.hour == 0  # a date column is stored as a datetime


# --- LIKE ---------------------------------------------------------------------------------------


def test_like_is_an_anchored_regex_with_escapes(project: Project) -> None:
    c = convert(project, r"SELECT customer_id FROM customers WHERE company_name LIKE 'a\_b%'")
    assert match(c) == {"companyName": Regex(r"^a_b.*$", "s")}
    c = convert(
        project, "SELECT customer_id FROM customers WHERE company_name LIKE '1!%.%' ESCAPE '!'"
    )
    assert match(c) == {"companyName": Regex(r"^1%\..*$", "s")}


def test_ilike_ignores_case_and_not_like_excludes_null(project: Project) -> None:
    c = convert(project, "SELECT customer_id FROM customers WHERE company_name ILIKE 'a%'")
    assert match(c)["companyName"].flags & 2  # re.IGNORECASE
    c = convert(project, "SELECT customer_id FROM customers WHERE company_name NOT LIKE 'a%'")
    assert match(c) == {
        "$and": [{"companyName": {"$ne": None}}, {"companyName": {"$not": Regex("^a.*$", "s")}}]
    }


def test_string_comparisons_follow_the_sources_collation(project: Project) -> None:
    sql = "SELECT customer_id FROM customers ORDER BY company_name"
    assert 'add COLLATE "C"' in refusal(project, sql, caps=Capabilities(collation="en_US.utf8"))
    convert(project, sql, caps=BINARY)
    collated = 'SELECT customer_id FROM customers ORDER BY company_name COLLATE "C"'
    convert(project, collated, caps=Capabilities(collation="en_US.utf8"))
    equal = "SELECT customer_id FROM customers WHERE country = 'Spain'"
    convert(project, equal, caps=Capabilities(collation="en_US.utf8"))  # deterministic
    why = refusal(mysql(project), equal, caps=Capabilities(collation="utf8mb4_general_ci"))
    assert "utf8mb4_general_ci" in why and "COLLATE utf8mb4_bin" in why


# --- ORDER BY, division, aggregates -------------------------------------------------------------


def _sort(conversion: Conversion) -> dict[str, int]:
    return next(s["$sort"] for s in conversion.pipeline if "$sort" in s)


def test_nulls_are_placed_where_each_source_places_them(project: Project) -> None:
    sql = "SELECT order_id, approved_by FROM orders ORDER BY approved_by{}, order_id"
    # PostgreSQL: NULLS LAST ascending, FIRST descending; MongoDB puts null lowest.
    assert _sort(convert(project, sql.format(""))) == {
        "__null0": 1,
        "approved_by": 1,
        "order_id": 1,
    }
    assert _sort(convert(project, sql.format(" DESC"))) == {
        "__null0": -1,
        "approved_by": -1,
        "order_id": 1,
    }
    # MariaDB places NULL lowest, as MongoDB does.
    assert _sort(convert(mysql(project), sql.format(" DESC"))) == {
        "approved_by": -1,
        "order_id": 1,
    }
    assert "__null0" in _sort(convert(mysql(project), sql.format(" NULLS LAST")))


def test_division_keeps_each_sources_rules(project: Project) -> None:
    sql = "SELECT units_in_stock / 4 AS q FROM products"
    projected = convert(project, sql).pipeline[-1]["$project"]["q"]
    assert projected == {"$trunc": {"$divide": ["$unitsInStock", {"$literal": 4}]}}
    projected = convert(mysql(project), sql).pipeline[-1]["$project"]["q"]
    assert projected == {"$round": [{"$divide": ["$unitsInStock", {"$literal": 4}]}, 4]}
    why = refusal(project, "SELECT units_in_stock / units_on_order AS q FROM products")
    assert "a division by something other than a non-zero number" in why


def test_aggregates_without_group_by_answer_an_empty_input(project: Project) -> None:
    c = convert(project, "SELECT COUNT(*) AS n, SUM(freight) AS s FROM orders WHERE order_id < 0")
    assert c.when_empty == {"n": 0, "s": None}
    fixes = next(s["$addFields"] for s in c.pipeline if "$addFields" in s)
    assert fixes["a1"] == {"$cond": [{"$eq": ["$a1n", 0]}, None, "$a1"]}  # SUM of nothing: NULL


# --- joins --------------------------------------------------------------------------------------


def test_joins_follow_embeddings_as_paths_and_unwinds(project: Project) -> None:
    sql = (
        "SELECT o.order_id, d.quantity, s.company_name FROM orders o "
        "JOIN order_details d ON d.order_id = o.order_id "
        "LEFT JOIN shippers s ON s.shipper_id = o.ship_via"
    )
    c = convert(project, sql)
    assert c.pipeline[0] == {"$unwind": "$orderDetails"}
    assert c.pipeline[-1]["$project"] == {
        "_id": 0,
        "order_id": "$_id",
        "quantity": "$orderDetails.quantity",
        "company_name": "$shipVia.companyName",
    }
    left = convert(project, sql.replace("JOIN order_details", "LEFT JOIN order_details"))
    assert left.pipeline[0] == {
        "$unwind": {"path": "$orderDetails", "preserveNullAndEmptyArrays": True}
    }


def test_a_join_between_collections_is_a_lookup_where_the_target_has_it(project: Project) -> None:
    sql = "SELECT c.company_name FROM orders o JOIN customers c ON c.customer_id = o.customer_id"
    lookup = convert(project, sql).pipeline[0]["$lookup"]
    assert lookup == {
        "from": "customers",
        "localField": "customerId",
        "foreignField": "_id",
        "as": "__join1",
    }
    caps = Capabilities(target="FerretDB v1.24.2", missing={"$lookup": "lacks"}, **_binary())
    why = refusal(project, sql, caps=caps)
    assert "needs $lookup, which FerretDB v1.24.2 lacks at line 1 col" in why


def _binary() -> dict[str, Any]:
    return {"binary_strings": True, "collation": "C"}


def test_rows_the_documents_may_not_hold_are_refused(project: Project) -> None:
    rules = [r.model_dump(by_alias=True) for r in project.collections]
    orders = next(r for r in rules if r["name"] == "orders")
    lines = next(e for e in orders["embeds"] if e["table"] == "public.order_details")
    lines["filter"] = 'columns["quantity"] >= 5'
    filtered = Project.model_validate({**project.model_dump(by_alias=True), "collections": rules})
    join = "SELECT o.order_id FROM orders o JOIN order_details d ON d.order_id = o.order_id"
    assert "keeps only some rows of public.order_details (a filter)" in refusal(filtered, join)
    alone = refusal(filtered, "SELECT product_id FROM order_details")
    assert "public.order_details is not read from any collection" in alone
    with_filter = Project.model_validate(
        {**project.model_dump(by_alias=True), "filters": {"public.orders": {"limit": 5}}}
    )
    assert "snapshot filter" in refusal(with_filter, "SELECT order_id FROM orders")


def test_decimals_stored_as_strings_are_not_compared_or_summed(project: Project) -> None:
    for sql in (
        "SELECT order_id FROM orders WHERE freight > 10",
        "SELECT SUM(freight) AS s FROM orders",
        "SELECT order_id FROM orders ORDER BY freight",
    ):
        assert "stores as strings here" in refusal(project, sql, decimals="string"), sql


def test_a_target_whose_project_cannot_compute_reads_columns_by_path(project: Project) -> None:
    caps = Capabilities(field_paths=False, **_binary())
    sql = "SELECT o.order_id, s.company_name FROM orders o LEFT JOIN shippers s ON s.shipper_id = o.ship_via ORDER BY o.order_id"  # noqa: E501
    c = convert(project, sql, caps=caps)
    assert c.columns == {"order_id": "_id", "company_name": "shipVia.companyName"}
    assert c.pipeline == [{"$sort": {"_id": 1}}]
    why = refusal(project, "SELECT order_id + 1 AS n FROM orders", caps=caps)
    assert "the output n is computed" in why


# --- refusals, parameters, output ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT ROW_NUMBER() OVER () AS n FROM orders", "a window function at line 1 col 8"),
        ("SELECT order_id\nFROM orders\nWHERE nope = 1", "no column nope at line 3 col 7"),
        ("SELECT 1 AS a FROM orders o RIGHT JOIN shippers s ON s.shipper_id = o.ship_via", "RIGHT"),
        ("DELETE FROM orders", "DELETE (only SELECT)"),
        ("SELECT order_id FROM orders WHERE order_id IN (SELECT 1)", "IN (SELECT …) other"),
        ("SELECT order_id FROM orders; SELECT 1", "several statements"),
        ("SELECT upper(city) AS u FROM customers", "UPPER (only COALESCE) at line 1 col 8"),
        ("SELEC order_id", "cannot"),
    ],
)  # fmt: skip
def test_refusals_name_the_construct_and_its_place(
    project: Project, sql: str, expected: str
) -> None:
    assert expected in refusal(project, sql)


def test_parameters_stay_parameters(project: Project) -> None:
    c = convert(project, "SELECT order_id FROM orders WHERE order_id < $1 LIMIT $2")
    assert [p.index for p in c.params] == [1, 2]
    assert isinstance(match(c)["_id"]["$lt"], Param)
    assert "def query(db, p1, p2):" in render(c, "python")
    assert '"$lt": p1' in render(c, "shell")


def test_the_python_output_runs_against_a_database_object(project: Project) -> None:
    c = convert(project, "SELECT COUNT(*) AS n FROM orders WHERE order_date < '2000-01-01'")
    namespace: dict[str, Any] = {}
    exec(compile(render(c, "python"), "<converted>", "exec"), namespace)

    class Empty:
        def aggregate(self, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
            assert bson.encode({"p": pipeline}) == bson.encode({"p": c.pipeline})
            return []

    assert namespace["query"]({"orders": Empty()}) == [{"n": 0}]


def test_statements_split_at_semicolons_outside_strings() -> None:
    text = "SELECT 'a;b' AS x FROM orders; -- c;\nSELECT 2 AS y FROM orders;"
    assert statements_of(text, "postgresql") == [
        "SELECT 'a;b' AS x FROM orders",
        "-- c;\nSELECT 2 AS y FROM orders",
    ]


def test_a_custom_id_keeps_the_key_in_its_field(project: Project) -> None:
    """With `_id` from other columns, the primary key stays a field of the document."""
    rules = [r.model_dump(by_alias=True) for r in project.collections]
    regions = next(r for r in rules if r["name"] == "regions")
    regions["id"] = {"columns": ["region_description"]}
    custom = Project.model_validate({**project.model_dump(by_alias=True), "collections": rules})
    c = convert(custom, "SELECT region_id FROM regions WHERE region_id = 2")
    assert match(c) == {"regionId": 2}
    assert c.pipeline[-1]["$project"] == {"_id": 0, "region_id": "$regionId"}


def test_subqueries_over_an_embedded_array_are_elem_matches(project: Project) -> None:
    exists = (
        "SELECT o.order_id FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_details d "
        "WHERE d.order_id = o.order_id AND d.quantity > 50)"
    )
    assert match(convert(project, exists)) == {
        "$nor": [{"orderDetails": {"$elemMatch": {"quantity": {"$gt": 50}}}}]
    }
    within = "SELECT order_id FROM orders WHERE order_id IN (SELECT order_id FROM order_details)"
    assert match(convert(project, within)) == {"orderDetails.0": {"$exists": True}}
    other = "SELECT order_id FROM orders WHERE customer_id IN (SELECT customer_id FROM customers)"
    assert "which orders does not embed as an array" in refusal(project, other)


def test_a_literal_that_is_no_value_of_the_column_is_refused(project: Project) -> None:
    assert "the literal 'abc' ('abc' is not a number)" in refusal(
        project, "SELECT order_id FROM orders WHERE order_id = 'abc'"
    )
    assert "the literal '2023-13-45'" in refusal(
        project, "SELECT order_id FROM orders WHERE order_date = '2023-13-45'"
    )


def test_char_n_literals_are_padded_and_like_on_them_refused(project: Project) -> None:
    got = match(convert(project, "SELECT company_name FROM customers WHERE customer_id = 'AB  '"))
    assert got == {"_id": "AB   "}  # char(5): PostgreSQL compares without trailing spaces
    why = refusal(project, "SELECT company_name FROM customers WHERE customer_id LIKE 'A%'")
    assert "LIKE on a char(n) column" in why


def test_what_an_empty_input_would_answer_otherwise_is_refused(project: Project) -> None:
    """Without GROUP BY SQL answers an empty input with one row; only plain aggregates are
    known there."""
    assert "beside aggregates without GROUP BY" in refusal(
        project, "SELECT COUNT(*) + 1 AS n FROM orders"
    )
    assert "HAVING without GROUP BY" in refusal(
        project, "SELECT COUNT(*) AS n FROM orders HAVING COUNT(*) = 0"
    )


def test_a_subquery_whose_condition_is_never_true_never_exists(project: Project) -> None:
    sql = (
        "SELECT o.order_id FROM orders o WHERE {}EXISTS (SELECT 1 FROM order_details d "
        "WHERE d.order_id = o.order_id AND d.quantity = NULL)"
    )
    assert match(convert(project, sql.format(""))) == NEVER
    assert not [s for s in convert(project, sql.format("NOT ")).pipeline if "$match" in s]
