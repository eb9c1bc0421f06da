"""Synthetic relationships, calculated fields, filters and custom `_id`s under CDC.

The schema has no declared foreign key (tests/cdc_rig.py, `synthetic_rig`). Rows cross the
filters both ways and a custom `_id` changes with its row; the documents in the target must
follow, and `verify` (which evaluates the same expressions) must find the target equal to a
fresh snapshot. A CDC that ignored the filters would leave stale documents: the mutation test
shows that verify catches it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

import relmig.transport.embedded
from relmig.apply.applier import cdc_plans
from relmig.project.file import load_project, save_project
from relmig.project.model import Project

pytestmark = pytest.mark.services


def _target(rig) -> Any:
    return MongoClient(rig.target_uri, tz_aware=True)[rig.target_db]


def _customer_with_orders(rig) -> tuple[str, int]:
    customer, order = rig.query(
        "SELECT o.customer_id, MIN(o.order_id) FROM orders o JOIN customers c "
        "ON c.customer_id = o.customer_id GROUP BY o.customer_id ORDER BY o.customer_id LIMIT 1"
    )[0]
    return customer.strip(), order


def test_rows_follow_filters_and_custom_ids_in_cdc(synthetic_rig) -> None:
    rig = synthetic_rig
    db = _target(rig)
    job_id = rig.start("continuous")
    rig.streaming(job_id)
    customer, order = _customer_with_orders(rig)
    country = rig.query(f"SELECT country FROM customers WHERE customer_id = '{customer}'")[0][0]

    doc = db.customers.find_one({"customer_id": customer})
    assert doc is not None and doc["display"].endswith(f" / {country}")
    assert doc["_id"].startswith(customer.lower() + ":")
    line = doc["orders"][0]["lines"][0]
    assert isinstance(line["total"], float) and line["product"]["label"].isupper()
    sku = rig.query("SELECT sku FROM products WHERE product_id = 1")[0][0]
    assert db.products.find_one({"product_id": 1})["_id"] == sku  # a unique key as _id

    # The root's row stops matching: its document is deleted; it matches again: back, with
    # the `_id` its new name gives.
    set_name = "UPDATE customers SET company_name = %s WHERE customer_id = %s"
    rig.execute([(set_name, ("Leaving 7", customer))])
    rig.caught_up(job_id)
    assert db.customers.find_one({"customer_id": customer}) is None
    rig.execute([(set_name, ("Back", customer))])
    rig.caught_up(job_id)
    doc = db.customers.find_one({"customer_id": customer})
    assert doc["_id"] == f"{customer.lower()}:4" and doc["display"] == f"Back / {country}"

    # An order leaves its customer's array when its freight passes the filter, and comes back.
    set_freight = "UPDATE orders SET freight = %s WHERE order_id = %s"
    rig.execute([(set_freight, (450, order))])
    rig.caught_up(job_id)
    held = [o["order_id"] for o in db.customers.find_one({"customer_id": customer})["orders"]]
    assert order not in held
    assert db.orders.find_one({"_id": order}) is not None  # its own collection has no filter
    rig.execute([(set_freight, (120, order))])
    rig.caught_up(job_id)
    held = [o["order_id"] for o in db.customers.find_one({"customer_id": customer})["orders"]]
    assert order in held
    rig.verify()
    # verify evaluates the expressions itself: a calculated value that is off is found.
    db.customers.update_one({"customer_id": customer}, {"$set": {"display": "tampered"}})
    with pytest.raises(AssertionError, match="display"):
        rig.verify()


def _without_filters(project: Project) -> Project:
    def strip(rule: dict[str, Any]) -> dict[str, Any]:
        rule.pop("filter", None)
        rule["embeds"] = [strip(e) for e in rule.get("embeds", [])]
        return rule

    raw = project.model_dump(by_alias=True)
    raw["collections"] = [strip(c) for c in raw["collections"]]
    return Project.model_validate(raw)


def test_verify_catches_a_cdc_that_ignores_filters(pg_synthetic_rig, monkeypatch) -> None:
    """The mutation: CDC recomputes without the filters (the snapshot had them)."""
    rig = pg_synthetic_rig
    monkeypatch.setattr(
        relmig.transport.embedded,
        "cdc_plans",
        lambda project, source, target: cdc_plans(_without_filters(project), source, target),
    )
    job_id = rig.start("continuous")
    rig.streaming(job_id)
    rig.verify()  # the snapshot applied the filters
    customer, order = _customer_with_orders(rig)
    rig.execute(
        [("UPDATE customers SET company_name = 'Leaving 7' WHERE customer_id = %s", (customer,))]
    )
    rig.execute([("UPDATE orders SET freight = 450 WHERE order_id = %s", (order,))])
    rig.caught_up(job_id)
    with pytest.raises(AssertionError) as caught:
        rig.verify()
    assert "customers" in str(caught.value)


def _relmig(rig, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    password = (
        "RELMIG_TEST_PG_PASSWORD" if rig.dialect == "postgresql" else "RELMIG_TEST_MYSQL_PASSWORD"
    )
    return subprocess.run(
        [sys.executable, "-m", "relmig.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={
            **os.environ,
            "COLUMNS": "250",
            "RELMIG_STATE_URL": rig.store.url,
            "RELMIG_SOURCE_PASSWORD": os.environ[password],
            **(env or {}),
        },
    )


def _source_url(rig) -> str:
    s = rig.settings
    scheme = "postgresql" if rig.dialect == "postgresql" else "mysql"
    return f"{scheme}://{s.user}@{s.host}:{s.port}/{s.database}?schema={s.schemas[0]}"


def test_import_infers_relationships_with_evidence_and_adds_only_accepted(
    synthetic_rig, tmp_path: Path
) -> None:
    rig = synthetic_rig
    asked = tmp_path / "asked.yaml"
    out = _relmig(rig, "import", _source_url(rig), "-o", str(asked), "--infer-relationships")
    assert out.returncode == 0, out.stderr
    for proposed in (
        "orders_customer_id",
        "order_details_order_id",
        "order_details_product_id",
        "products_category_id",
    ):
        assert proposed in out.stdout
    assert "0 of" in out.stdout and "name: orders.customer_id → customers.customer_id" in out.stdout
    assert "None added" in out.stdout  # no terminal, no --accept: nothing silently
    assert not load_project(asked).relationships

    accepted = tmp_path / "accepted.yaml"
    out = _relmig(
        rig,
        "import",
        _source_url(rig),
        "-o",
        str(accepted),
        "--infer-relationships",
        "--accept",
        "orders_customer_id",
        "--accept",
        "order_details_order_id",
    )
    assert out.returncode == 0, out.stderr
    project = load_project(accepted)
    rels = {r.name: r for r in project.relationships}
    assert set(rels) == {"orders_customer_id", "order_details_order_id"}
    assert "orphan" not in rels["orders_customer_id"].evidence
    assert "0 of" in rels["orders_customer_id"].evidence
    # The recommended mapping follows them: order lines embedded in orders, through one.
    orders = project.collection("orders")
    assert any(e.foreign_key == "order_details_order_id" for e in orders.embeds)


def test_check_names_link_columns_without_an_index(synthetic_rig, tmp_path: Path) -> None:
    rig = synthetic_rig
    if rig.dialect == "postgresql":
        rig.execute([("DROP INDEX orders_customer_id_idx", ())])
    else:
        (index,) = rig.query(
            "SELECT DISTINCT index_name FROM information_schema.statistics WHERE "
            "table_schema = DATABASE() AND table_name = 'orders' AND column_name = 'customer_id'"
        )[0]
        rig.execute([(f"DROP INDEX `{index}` ON orders", ())])
    project_file = tmp_path / "p.yaml"
    save_project(rig.project, project_file)
    script = tmp_path / "fix.sql"
    out = _relmig(rig, "check", str(project_file), "--script", str(script))
    assert out.returncode == 0, out.stdout + out.stderr  # prerequisites met; indexes advised
    table = "public.orders" if rig.dialect == "postgresql" else f"{rig.target_db}.orders"
    assert f"index on {table} (customer_id)" in out.stdout
    assert "orders_customer" in out.stdout  # the synthetic relationship that needs it
    fix = [line for line in script.read_text().splitlines() if line.startswith("CREATE INDEX")]
    assert len(fix) == 1 and "customer_id" in fix[0]
    rig.execute([(fix[0].rstrip(";"), ())])
    out = _relmig(rig, "check", str(project_file))
    assert out.returncode == 0 and "without an index" not in out.stdout
