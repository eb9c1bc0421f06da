"""Field casing and the initial mappings."""

from __future__ import annotations

import pytest

from relmig.project.casing import apply_casing
from relmig.project.initial import casing_of, initial_collections, new_collection, new_embed
from relmig.project.model import Column, ForeignKey, Project, SourceSettings, Table


@pytest.mark.parametrize(
    ("name", "casing", "expected"),
    [
        ("order_id", "camel", "orderId"),
        ("OrderID", "camel", "orderId"),
        ("Customer Demographics", "snake", "customer_demographics"),
        ("shipCity", "snake", "ship_city"),
        ("ship_city", "pascal", "ShipCity"),
        ("größe", "upper", "GRÖSSE"),
        ("it's", "camel", "its"),
        ("a.b", "keep", "a_b"),
        ("order", "keep", "order"),
    ],
)
def test_casing(name: str, casing: str, expected: str) -> None:
    assert apply_casing(name, casing) == expected  # type: ignore[arg-type]


def _t(name: str, cols: list[str], pk: list[str], fks: list[ForeignKey] | None = None) -> Table:
    return Table(
        schema="s",
        name=name,
        columns=[Column(name=c, type="integer") for c in cols],
        primary_key=pk,
        foreign_keys=fks or [],
    )


TABLES = [
    _t("categories", ["id", "name"], ["id"]),
    _t(
        "products",
        ["id", "category_id"],
        ["id"],
        [
            ForeignKey(
                name="p_cat", columns=["category_id"], ref_table="s.categories", ref_columns=["id"]
            )
        ],
    ),
    _t("orders", ["id", "customer"], ["id"]),
    _t(
        "order_lines",
        ["order_id", "product_id", "qty"],
        ["order_id", "product_id"],
        [
            ForeignKey(
                name="l_order", columns=["order_id"], ref_table="s.orders", ref_columns=["id"]
            ),
            ForeignKey(
                name="l_product", columns=["product_id"], ref_table="s.products", ref_columns=["id"]
            ),
        ],
    ),
    _t("logs", ["msg"], []),
]


def test_one_to_one_maps_every_table_with_a_key() -> None:
    names = [c.name for c in initial_collections(TABLES, "one-to-one")]
    assert names == ["categories", "products", "orders", "order_lines"]


def test_recommended_embeds_owned_children_and_lookups() -> None:
    colls = {c.name: c for c in initial_collections(TABLES, "recommended", "camel")}
    assert set(colls) == {"categories", "products", "orders"}
    lines = colls["orders"].embeds[0]
    assert (lines.kind, lines.table, lines.field) == ("array", "s.order_lines", "orderLines")
    assert lines.fields["order_id"].include is False
    assert [(e.kind, e.table, e.field) for e in lines.embeds] == [
        ("document", "s.products", "product")
    ]
    assert [(e.kind, e.field) for e in colls["products"].embeds] == [("document", "category")]
    assert colls["products"].fields["category_id"].name == "categoryId"


def test_empty_mapping() -> None:
    assert initial_collections(TABLES, "empty") == []


def _project(casing: str | None, mapping: str = "one-to-one") -> Project:
    return Project(
        name="p",
        source=SourceSettings(dialect="postgresql", database="d", user="u"),
        tables=TABLES,
        collections=initial_collections(TABLES, mapping, casing or "camel"),  # type: ignore[arg-type]
        casing=casing,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("recorded", ["camel", None])
def test_rules_added_later_use_the_project_casing(recorded: str | None) -> None:
    """As import does: a camelCase project never gets order_id next to orderId. A file written
    before the casing was recorded gets the one its renamed fields follow."""
    project = _project(recorded)
    assert casing_of(project) == "camel"
    lines = new_embed(project, "array", "s.order_lines", "s.orders", "l_order")
    assert lines.field == "orderLines"
    assert lines.fields["product_id"].name == "productId"
    assert lines.fields["order_id"].include is False
    product = new_embed(project, "document", "s.products", "s.order_lines", "l_product")
    assert (product.field, product.fields["category_id"].name) == ("product", "categoryId")
    again = new_collection(project, "s.products")
    assert (again.name, again.fields["category_id"].name) == ("products_2", "categoryId")


def test_casing_of_a_project_without_renames_is_keep() -> None:
    project = _project(None).model_copy(update={"collections": []})
    assert casing_of(project) == "keep"


def test_a_new_sub_document_does_not_take_its_parent_link_column_name() -> None:
    """orders.sold_by → employees: the order keeps its sold_by field, so the sub-document a
    rule adds is named after the table, not `sold_by` (which the validator would refuse)."""
    seller = ForeignKey(
        name="o_seller", columns=["sold_by"], ref_table="s.employees", ref_columns=["id"]
    )
    tables = [
        _t("employees", ["id", "name"], ["id"]),
        _t("orders", ["id", "sold_by"], ["id"], [seller]),
    ]
    project = Project(
        name="p",
        source=SourceSettings(dialect="postgresql", database="d", user="u"),
        tables=tables,
        collections=initial_collections(tables, "one-to-one", "snake"),
        casing="snake",
    )
    rule = new_embed(project, "document", "s.employees", "s.orders", "o_seller")
    assert rule.field == "employees"
