"""Schema import from live PostgreSQL and MariaDB: keys, foreign keys, indexes, awkward names."""

from __future__ import annotations

import pytest

from relmig.project.model import SourceSettings
from relmig.schema.introspect import import_tables

pytestmark = pytest.mark.services


def _table(tables, name):
    return next(t for t in tables if t.name == name)


def test_import_reads_everything(sample_settings: SourceSettings) -> None:
    tables = import_tables(sample_settings)
    assert len(tables) == 15
    details = _table(tables, "order_details")
    assert details.primary_key == ["order_id", "product_id"]
    notes = _table(tables, "order_detail_notes")
    composite = next(fk for fk in notes.foreign_keys if len(fk.columns) == 2)
    assert composite.columns == ["order_id", "product_id"]
    assert composite.ref_table.endswith(".order_details")
    employees = _table(tables, "employees")
    self_ref = next(fk for fk in employees.foreign_keys if fk.columns == ["reports_to"])
    assert self_ref.ref_table == employees.id
    assert employees.column("reports_to").nullable
    orders = _table(tables, "orders")
    to_employees = sorted(
        fk.columns[0] for fk in orders.foreign_keys if fk.ref_table == employees.id
    )
    assert to_employees == ["approved_by", "sold_by"]
    assert orders.column("ship_via").nullable
    products = _table(tables, "products")
    assert any(ix.unique and ix.columns == ["sku"] for ix in products.indexes)
    assert any(not ix.unique and ix.columns == ["product_name"] for ix in products.indexes)
    assert products.estimated_rows is not None and products.estimated_rows > 0
    demographics = _table(tables, "Customer Demographics")
    names = {c.name for c in demographics.columns}
    assert {"DemographicID", "group", "it's", "größe", "prix_€"} <= names
    assert demographics.column("DisplayName").nullable is False


def test_import_only_some_tables(sample_settings: SourceSettings) -> None:
    schema = sample_settings.schemas[0]
    tables = import_tables(
        sample_settings, only=[f"{schema}.orders", f"{schema}.Customer Demographics"]
    )
    assert sorted(t.name for t in tables) == ["Customer Demographics", "orders"]


def test_json_columns_are_recognised(sample_settings: SourceSettings) -> None:
    zoo = _table(import_tables(sample_settings), "type_zoo")
    assert zoo.column("c_json").type == "json"
