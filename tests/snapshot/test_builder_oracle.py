"""The builder against its reference (tests/reference_builder.py): the same documents, key order,
types and problems included, for every collection of four mappings of the sample database.

The builder runs generated code per plan node and appends expression results to the rows; the
reference is the per-field loop it replaced. Both are fed the same rows (the builder's own
scan pages, and a `build(keys)` of some roots), in each way a target stores exact numbers. The
mappings: the recommended one (type_zoo's unstorable values included), one-to-one, the CDC
rig's deep mapping, and its synthetic mapping (calculated fields on every level, filters,
custom `_id`s) plus a collection whose expressions fail, filters give notices and `_id`s are
null for some rows.

A document marked `needs_screen=False` must also pass a screen that refuses everything a
target can refuse: that is the claim the plan-level screen makes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cdc_rig import deep_collections, synthetic_collections, synthetic_relationships
from reference_builder import ReferenceBuilder
from relmig.documents.builder import Built, DocumentBuilder
from relmig.documents.plan import DecimalMode, compile_collection
from relmig.mongo.profile import TargetProfile
from relmig.project.model import (
    CalculatedField,
    CollectionRule,
    CustomId,
    EmbedRule,
    FieldRule,
    Project,
    SortKey,
    SourceSettings,
    TableFilter,
)
from relmig.source.sql import SqlSource

pytestmark = pytest.mark.services

# Refuses every kind of value and field name a target may refuse.
STRICTEST = TargetProfile(
    decimal128=False,
    non_finite_doubles=False,
    nul_strings=False,
    nested_arrays=False,
    dotted_keys=False,
    dollar_keys=False,
)


def _awkward(schema: str) -> CollectionRule:
    """Orders whose expressions fail on some rows, filters answer neither true nor false on
    some, and `_id` is null on some; dotted renames and an omitted NULL among them."""
    t = f"{schema}.orders"
    return CollectionRule(
        name="awkward_orders",
        table=t,
        id=CustomId(expression='columns["order_id"] % 5 == 0 ? null : "o" + columns["order_id"]'),
        filter='columns["order_id"] % 11 == 0 ? "maybe" : columns["order_id"] % 13 != 0',
        fields={
            "ship_name": FieldRule(name="ship.name"),
            "ship_region": FieldRule(name="ship.region", nulls="omit"),
            "freight": FieldRule(type="int32"),
        },
        calculated=[
            CalculatedField(name="region_length", expression='columns["ship_region"].length'),
            CalculatedField(
                name="country_number", expression='columns["ship_country"]', type="int32"
            ),
            CalculatedField(
                name="when.late",
                expression='columns["shipped_date"] === null ? null : columns["order_id"] % 2',
                nulls="omit",
            ),
        ],
        embeds=[
            EmbedRule(
                kind="array",
                table=f"{schema}.order_details",
                foreign_key="lines_order",
                field="lines",
                filter='columns["quantity"] % 4 == 0 ? 1 : columns["quantity"] > 3',
                calculated=[
                    CalculatedField(
                        name="doubled", expression='columns["quantity"] * 2', type="string"
                    ),
                    CalculatedField(
                        name="odd",
                        expression='columns["quantity"] % 3 == 0 ? null.y : "ok"',
                    ),
                ],
                sort=[SortKey(column="quantity", descending=True)],
                limit=3,
            ),
        ],
    )


def _project(make_project: Callable[..., Project], settings: SourceSettings, mapping: str):
    if mapping in ("recommended", "one-to-one"):
        return make_project(settings, mapping=mapping, casing="camel")
    base = make_project(settings, mapping="empty")
    schema = settings.schemas[0]
    if mapping == "deep":
        update: dict[str, Any] = {
            "collections": deep_collections(base, schema),
            "filters": {f"{schema}.orders": TableFilter(where="freight > 10", limit=200)},
        }
    else:
        update = {
            "relationships": synthetic_relationships(schema),
            "collections": [*synthetic_collections(schema), _awkward(schema)],
        }
    return Project.model_validate(base.model_copy(update=update).model_dump(by_alias=True))


def _canon(value: Any) -> Any:
    """A value with its type at every level and its keys in order (1, 1.0 and True differ)."""
    if isinstance(value, dict):
        return ("dict", [(k, _canon(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_canon(v) for v in value])
    return (type(value).__name__, repr(value))


def _canon_built(b: Built) -> Any:
    problems = [(p.table, p.key, p.field, p.reason, p.path, p.notice) for p in b.problems]
    return (b.key, _canon(b.filter), _canon(b.doc), problems, b.blocked)


def _assert_same(built: list[Built], expected: list[Built], where: str) -> None:
    assert len(built) == len(expected), where
    for b, e in zip(built, expected, strict=True):
        assert _canon_built(b) == _canon_built(e), f"{where}: root {b.key}"
        if not b.needs_screen and b.doc is not None:  # a row a filter left out has none
            assert STRICTEST.problems(b.doc) == [], f"{where}: {b.key}"


@pytest.mark.parametrize("mapping", ["recommended", "one-to-one", "deep", "synthetic"])
def test_builder_matches_the_reference(
    mapping: str, sample_settings: SourceSettings, source: SqlSource, make_project
) -> None:
    project = _project(make_project, sample_settings, mapping)
    modes: list[DecimalMode] = ["decimal128", "string"]
    if mapping == "recommended":
        modes.append("double")
    seen = {"roots": 0, "problems": 0, "notices": 0, "unscreened": 0}
    for mode in modes:
        for collection in project.collections:
            plan = compile_collection(project, collection, source, decimals=mode)
            builder = DocumentBuilder(plan, source)
            reference = ReferenceBuilder(plan, source)
            node = plan.node
            keys = []
            after = None
            for n, page in enumerate(builder.scan(None, batch_size=97)):
                # The reference reads the same page of rows the builder read.
                rows = source.scan_page(
                    node.table,
                    node.select_sql,
                    node.table.primary_key,
                    after,
                    page.rows,
                    node.where,
                )
                after = page.last_key
                where = f"{mode} {collection.name} page {n}"
                _assert_same(page.built, reference.roots(rows), where)
                keys += [b.key for b in page.built[::7]]
                seen["roots"] += len(page.built)
                seen["problems"] += sum(b.blocked for b in page.built)
                seen["notices"] += sum(any(p.notice for p in b.problems) for b in page.built)
                seen["unscreened"] += sum(not b.needs_screen for b in page.built)
            if keys:
                where = f"{mode} {collection.name} build"
                _assert_same(builder.build(keys), reference.build(keys), where)
    # The comparison covered what it is meant to cover.
    assert seen["roots"] > 500
    if mapping in ("recommended", "synthetic"):
        assert seen["problems"] > 0
    if mapping == "synthetic":
        assert seen["notices"] > 0
    # Some documents skip the target's screen: one-to-one always has a table of numbers and
    # dates; recommended's every collection holds a MariaDB string (which may hold a NUL).
    if mapping == "one-to-one" or (mapping == "recommended" and sample_settings.dialect != "mysql"):
        assert seen["unscreened"] > 0
