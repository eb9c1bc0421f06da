"""Snapshot jobs against real servers, judged by the oracle: verify against a fresh snapshot."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from bson import Int64

from relmig.mongo.writer import MongoTarget
from relmig.project.model import CollectionRule, EmbedRule, FieldRule, Project, SortKey, TableFilter
from relmig.runtime.store import StateStore
from relmig.source.sql import SqlSource
from relmig.verify.compare import verify
from snapshot_jobs import run_snapshot

pytestmark = pytest.mark.services


def _run(project: Project, source: SqlSource, target: MongoTarget, store: StateStore, **opts: Any):
    del source  # the job opens its own connections from the project
    job_id = run_snapshot(project, target, store, **{"on_error": "SKIP", **opts})
    assert store.job(job_id)["status"] == "COMPLETED", store.job(job_id)["failure"]
    return job_id, None


def _without_zoo(project: Project) -> Project:
    """type_zoo holds deliberately unstorable values; the error-policy tests cover it."""
    project.collections = [c for c in project.collections if c.table.split(".")[-1] != "type_zoo"]
    return project


def test_recommended_mapping_round_trip(
    sample_settings, source, target, store, make_project
) -> None:
    project = make_project(sample_settings, casing="camel")
    job_id, _ = _run(project, source, target, store, drop=True)
    assert store.job(job_id)["status"] == "COMPLETED"
    report = verify(project, source, target)
    assert report.ok, [(c.name, c.examples) for c in report.collections if not c.ok]
    orders = {c.name: c for c in report.collections}["orders"]
    assert orders.expected == orders.actual == 300
    order = target.db.orders.find_one({"_id": 1})
    assert order["orderDetails"], "order 1 has lines"
    line = order["orderDetails"][0]
    assert "orderId" not in line  # the key back to the parent is implied by the parent
    assert line["product"]["productId"] == line["productId"]
    # The lookup table embedded in customers keeps its awkward column names, cased.
    customer = target.db.customers.find_one({"primaryDemographic": {"$ne": None}})
    assert {"größe", "prix€", "its", "group"} <= set(customer["primaryDemographic"])


def test_rerun_is_idempotent(sample_settings, source, target, store, make_project) -> None:
    project = _without_zoo(make_project(sample_settings))
    _run(project, source, target, store, drop=True)
    counts = {n: target.db[n].count_documents({}) for n in target.db.list_collection_names()}
    _run(project, source, target, store)  # no drop: the same upserts again
    again = {n: target.db[n].count_documents({}) for n in target.db.list_collection_names()}
    assert again == counts
    assert verify(project, source, target).ok


def test_verify_finds_missing_extra_and_different(
    sample_settings, source, target, store, make_project
) -> None:
    project = _without_zoo(make_project(sample_settings))
    _run(project, source, target, store, drop=True)
    shippers = target.db.shippers
    shippers.delete_one({"_id": 1})
    shippers.insert_one({"_id": 999, "company_name": "ghost"})
    shippers.update_one({"_id": 2}, {"$set": {"phone": "changed"}})
    report = verify(project, source, target, collections=["shippers"])
    result = report.collections[0]
    assert not report.ok
    assert (result.missing, result.extra, result.different) == (1, 1, 1)
    kinds = {(d.kind, d.key) for d in result.examples}
    assert {("missing", "1"), ("extra", "999"), ("different", "2")} <= kinds
    assert any("phone" in d.detail for d in result.examples if d.kind == "different")


def _rules(project: Project, schema: str) -> Project:
    """Every rule type and option, nested three deep, with one table mapped twice."""
    t = lambda name: f"{schema}.{name}"  # noqa: E731
    fk = lambda table, cols: next(  # noqa: E731
        f.name for f in project.table(t(table)).foreign_keys if f.columns == cols
    )
    project.collections = [
        CollectionRule(
            name="orders",
            table=t("orders"),
            id="objectid",
            fields={
                "ship_city": FieldRule(name="ship.city"),
                "ship_country": FieldRule(name="ship.country"),
                "ship_name": FieldRule(include=False),
                "freight": FieldRule(type="double"),
                "sold_by": FieldRule(type="int64"),
                "shipped_date": FieldRule(nulls="omit"),
                "approved_by": FieldRule(nulls="omit"),
            },
            embeds=[
                EmbedRule(
                    kind="array",
                    table=t("order_details"),
                    foreign_key=fk("order_details", ["order_id"]),
                    field="lines",
                    sort=[SortKey(column="quantity", descending=True)],
                    embeds=[
                        EmbedRule(
                            kind="document",
                            table=t("products"),
                            foreign_key=fk("order_details", ["product_id"]),
                            field="product",
                            embeds=[
                                EmbedRule(
                                    kind="document",
                                    table=t("categories"),
                                    foreign_key=fk("products", ["category_id"]),
                                    field="category",
                                    fields={"picture": FieldRule(include=False)},
                                )
                            ],
                        )
                    ],
                ),
                EmbedRule(
                    kind="document",
                    table=t("shippers"),
                    foreign_key=fk("orders", ["ship_via"]),
                    field="",
                    merge=True,
                    fields={
                        "company_name": FieldRule(name="shipper_name"),
                        "phone": FieldRule(include=False),
                    },
                ),
            ],
        ),
        CollectionRule(
            name="customers",
            table=t("customers"),
            embeds=[
                EmbedRule(
                    kind="array",
                    table=t("orders"),
                    foreign_key=fk("orders", ["customer_id"]),
                    field="latest_order_dates",
                    primitive="order_date",
                    sort=[SortKey(column="order_date", descending=True)],
                    limit=3,
                ),
            ],
        ),
        CollectionRule(name="order_details", table=t("order_details"), id="wrap"),
        CollectionRule(name="products", table=t("products")),
    ]
    return project


def test_every_rule_type(sample_settings, source, target, store, make_project) -> None:
    project = _rules(make_project(sample_settings, mapping="empty"), sample_settings.schemas[0])
    _run(project, source, target, store, drop=True)
    report = verify(project, source, target)
    assert report.ok, [(c.name, c.examples) for c in report.collections if not c.ok]

    order = target.db.orders.find_one({"order_id": 1})
    assert set(order["ship"]) == {"city", "country"} and "ship_name" not in order
    assert isinstance(order["freight"], float) and isinstance(order["sold_by"], Int64)
    quantities = [line["quantity"] for line in order["lines"]]
    assert quantities == sorted(quantities, reverse=True)
    categorized = target.db.orders.find_one({"lines.product.category": {"$type": "object"}})
    category = next(
        line["product"]["category"] for line in categorized["lines"] if line["product"]["category"]
    )
    assert "category_name" in category and "picture" not in category
    shipped = target.db.orders.find_one({"ship_via": {"$ne": None}})
    assert "shipper_name" in shipped and "shipper_id" in shipped and "phone" not in shipped
    unshipped = target.db.orders.find_one({"ship_via": None})
    assert "shipped_date" not in unshipped and "shipper_name" not in unshipped
    # ObjectId ids keep the key in the document, under a unique index.
    indexes = target.db.orders.index_information()
    assert any(ix.get("unique") and ix["key"] == [("order_id", 1)] for ix in indexes.values())
    # CDC routes through the source, so no index on embedded keys slows the writes down.
    assert len(indexes) == 2

    dates = [c["latest_order_dates"] for c in target.db.customers.find()]
    assert max(len(d) for d in dates) == 3 and [] in dates  # one customer never ordered
    assert all(d == sorted(d, reverse=True) for d in dates)

    line = target.db.order_details.find_one()
    assert set(line["_id"]) == {"order_id", "product_id"}
    assert "order_id" not in line

    # Re-running an ObjectId collection must not duplicate anything.
    _run(project, source, target, store)
    assert target.db.orders.count_documents({}) == 300
    assert verify(project, source, target).ok


def test_table_filters_apply_to_the_snapshot(
    sample_settings, source, target, store, make_project
) -> None:
    project = _without_zoo(make_project(sample_settings))
    schema = sample_settings.schemas[0]
    project.filters = {
        # A literal % (LIKE) in a statement the driver formats with parameters.
        f"{schema}.orders": TableFilter(
            where="freight > 100 AND ship_country NOT LIKE '%zz%'", limit=50
        ),
        f"{schema}.order_details": TableFilter(where="quantity >= 10"),
    }
    _run(project, source, target, store, drop=True, collections=["orders"])
    orders = list(target.db.orders.find())
    assert len(orders) == 50
    # A decimal is a Decimal128 where the target stores them, an exact string elsewhere.
    assert all(Decimal(str(o["freight"])) > 100 for o in orders)
    assert all(line["quantity"] >= 10 for o in orders for line in o["order_details"])
    assert verify(project, source, target, collections=["orders"]).ok
    assert not verify(project, source, target, collections=["orders"], filters=False).ok
