"""Queries over the sample's awkward parts, converted and checked on both sources: quoted and
non-ASCII identifiers ("Customer Demographics", "it's", "größe", "prix_€"), composite keys
(customer_demographic_links, order_details), a self-reference (employees.reports_to) and a
synthetic relationship (order_detail_notes.order_id → orders, declared by the project only and
embedded as an array). Written for PostgreSQL, transpiled for MariaDB by sqlglot."""

# ruff: noqa: E501 - one query a line reads best

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlglot
from queries_rig import Migrated, migrate

from relmig.project.model import EmbedRule, Project, Relationship, RelationshipEnd
from relmig.queries.answers import answer

pytestmark = pytest.mark.services

AWKWARD = [
    'SELECT "DemographicID", "DisplayName", "group" FROM "Customer Demographics"',
    'SELECT "DisplayName", "it\'s", "größe", "prix_€" FROM "Customer Demographics" WHERE "größe" > 10',
    'SELECT "DemographicID" FROM "Customer Demographics" WHERE "prix_€" IS NULL OR "prix_€" < 5',
    'SELECT d."DisplayName", l.customer_id, l."SinceDate" FROM "Customer Demographics" d JOIN customer_demographic_links l ON l."DemographicID" = d."DemographicID"',
    'SELECT l.customer_id, l."DemographicID", l."order" FROM customer_demographic_links l',
    'SELECT l."DemographicID", c.company_name FROM customer_demographic_links l JOIN customers c ON c.customer_id = l.customer_id',
    'SELECT c.customer_id, d."DisplayName" FROM customers c LEFT JOIN "Customer Demographics" d ON d."DemographicID" = c."PrimaryDemographicID"',
    'SELECT c.customer_id FROM customers c WHERE c."PrimaryDemographicID" IS NOT NULL',
    'SELECT "DemographicID", COUNT(*) AS n FROM customer_demographic_links GROUP BY "DemographicID"',
    'SELECT "DemographicID", MAX("SinceDate") AS since FROM customer_demographic_links GROUP BY "DemographicID" ORDER BY 1',
    "SELECT e.employee_id, e.reports_to FROM employees e WHERE e.reports_to IS NULL",
    "SELECT e.employee_id, m.employee_id AS manager FROM employees e JOIN employees m ON m.employee_id = e.reports_to",
    "SELECT e.employee_id, m.hire_date FROM employees e LEFT JOIN employees m ON m.employee_id = e.reports_to",
    "SELECT reports_to, COUNT(*) AS n FROM employees GROUP BY reports_to",
    "SELECT n.note_id, n.order_id, n.product_id FROM order_detail_notes n WHERE n.product_id < 20",
    "SELECT o.order_id, n.note_id FROM orders o JOIN order_detail_notes n ON n.order_id = o.order_id",
    "SELECT o.order_id, COUNT(*) AS notes FROM orders o JOIN order_detail_notes n ON n.order_id = o.order_id GROUP BY o.order_id",
    "SELECT o.order_id, n.note_id FROM orders o LEFT JOIN order_detail_notes n ON n.order_id = o.order_id WHERE o.order_id < 20",
    "SELECT d.order_id, d.product_id, d.quantity FROM order_details d WHERE d.order_id = 5",
    "SELECT d.order_id, d.product_id FROM order_details d WHERE d.order_id < 10 ORDER BY d.order_id DESC NULLS LAST, d.product_id NULLS FIRST",
    "SELECT n.note_id, o.ship_via FROM order_detail_notes n JOIN orders o ON o.order_id = n.order_id",
]  # fmt: skip
# order_details is embedded in orders only: a composite join to it from another collection is
# no path and no single-field $lookup.
COMPOSITE = (
    "SELECT n.note_id, d.quantity FROM order_detail_notes n JOIN order_details d "
    "ON d.order_id = n.order_id AND d.product_id = n.product_id"
)


def with_notes(project: Project) -> Project:
    """A relationship the database does not declare, embedded as orders.notes."""
    schema = project.table(project.collections[0].table).schema_
    link = Relationship(
        name="note_order",
        parent=RelationshipEnd(table=f"{schema}.orders", columns=["order_id"]),
        child=RelationshipEnd(table=f"{schema}.order_detail_notes", columns=["order_id"]),
    )
    rules = []
    for rule in project.collections:
        if rule.name == "orders":
            notes = EmbedRule(
                kind="array",
                table=f"{schema}.order_detail_notes",
                foreign_key="note_order",
                field="notes",
            )
            rule = rule.model_copy(update={"embeds": [*rule.embeds, notes]})
        rules.append(rule)
    return Project.model_validate(
        {
            **project.model_dump(by_alias=True),
            "relationships": [link.model_dump()],
            "collections": [r.model_dump() for r in rules],
        }
    )


@pytest.fixture(scope="module", params=["postgresql", "mysql"])
def migrated(
    request: pytest.FixtureRequest,
    samples: dict,
    target_uris: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Migrated]:
    tmp = tmp_path_factory.mktemp("awkward")
    yield from migrate(samples[request.param], target_uris["mongo2"], "mongo2", tmp, with_notes)


def _dialect(sql: str, dialect: str) -> str:
    return sql if dialect == "postgresql" else sqlglot.transpile(sql, "postgres", "mysql")[0]


def test_awkward_queries_convert_and_answer_as_the_source(migrated: Migrated) -> None:
    dialect = migrated.project.source.dialect
    queries = [_dialect(sql, dialect) for sql in [*AWKWARD, COMPOSITE]]
    found = answer(migrated.project, queries, migrated.source, migrated.target, verify=True)
    *converted, composite = found
    problems = [
        (a.sql, a.refused or a.unchecked or (a.checked.differences if a.checked else None))
        for a in converted
        if not (a.ok and a.checked is not None)
    ]
    assert not problems
    assert "is neither embedded along this join nor the root of a collection" in str(
        composite.refused
    )
