"""Synthetic relationships and expressions in the project file: round trip, and every mistake
named by its path (with the engine's own message for an expression that does not compile)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from relmig.errors import ProjectFileError
from relmig.project.file import dump_project, parse_project
from relmig.project.model import Project


def raw_project() -> dict[str, Any]:
    """Two tables without declared keys, linked by a synthetic relationship."""
    return {
        "version": 1,
        "name": "legacy",
        "source": {"dialect": "mysql", "database": "legacy", "user": "me"},
        "tables": [
            {
                "schema": "app",
                "name": "client",
                "columns": [
                    {"name": "id", "type": "int"},
                    {"name": "first", "type": "varchar(20)"},
                    {"name": "last", "type": "varchar(20)"},
                    {"name": "email", "type": "varchar(80)"},
                ],
                "primary_key": ["id"],
            },
            {
                "schema": "app",
                "name": "invoice",
                "columns": [
                    {"name": "no", "type": "int"},
                    {"name": "client_id", "type": "bigint"},
                    {"name": "amount", "type": "decimal(10,2)"},
                    {"name": "voided", "type": "tinyint(1)"},
                ],
                "primary_key": ["no"],
            },
        ],
        "relationships": [
            {
                "name": "invoice_client",
                "parent": {"table": "app.client", "columns": ["id"]},
                "child": {"table": "app.invoice", "columns": ["client_id"]},
                "evidence": "name: invoice.client_id → client.id; 0 of 12 child values orphaned",
            }
        ],
        "collections": [
            {
                "name": "clients",
                "table": "app.client",
                "id": {"columns": ["email"]},
                "filter": 'columns["email"] !== null',
                "calculated": [
                    {
                        "name": "name.full",
                        "expression": 'columns["first"] + " " + columns["last"]',
                    }
                ],
                "embeds": [
                    {
                        "kind": "array",
                        "table": "app.invoice",
                        "foreign_key": "invoice_client",
                        "field": "invoices",
                        "filter": '!columns["voided"]',
                        "calculated": [
                            {
                                "name": "gross",
                                "expression": 'columns["amount"] * 1.2',
                                "type": "decimal",
                            }
                        ],
                    }
                ],
            }
        ],
    }


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ProjectFileError) as err:
        parse_project(raw, "p.yaml")
    return err.value.problems


def test_round_trip_keeps_relationships_and_expressions() -> None:
    project = parse_project(raw_project(), "p.yaml")
    again = parse_project(yaml.safe_load(dump_project(project)), "again")
    assert again == project
    assert project.link("app.invoice", "invoice_client").ref_table == "app.client"
    assert [fk.name for fk in project.links_of(project.table("app.invoice"))] == ["invoice_client"]


def test_relationship_naming_missing_columns() -> None:
    raw = raw_project()
    raw["relationships"][0]["child"]["columns"] = ["customer_id"]
    raw["relationships"][0]["parent"]["table"] = "app.nope"
    found = problems(raw)
    assert (
        "relationships[0] (invoice_client).child.columns: "
        "table app.invoice has no column 'customer_id'" in found
    )
    assert "relationships[0] (invoice_client).parent.table: unknown table 'app.nope'" in found


def test_relationship_column_counts_types_and_names() -> None:
    raw = raw_project()
    raw["relationships"][0]["child"]["columns"] = ["client_id", "no"]
    assert any("the parent has 1 columns and the child 2" in p for p in problems(raw))
    raw = raw_project()
    raw["relationships"][0]["child"]["columns"] = ["voided"]
    raw["relationships"][0]["parent"]["columns"] = ["email"]
    assert any(
        "app.invoice.voided (tinyint(1)) cannot hold the values of app.client.email" in p
        for p in problems(raw)
    )
    raw = raw_project()
    raw["relationships"].append(dict(raw["relationships"][0]))
    assert any("relationships[1] (invoice_client): the name is used" in p for p in problems(raw))


def test_rule_naming_an_unknown_relationship() -> None:
    raw = raw_project()
    raw["collections"][0]["embeds"][0]["foreign_key"] = "invoice_customer"
    assert any(
        "embeds[0].foreign_key: app.invoice has no foreign key 'invoice_customer'" in p
        for p in problems(raw)
    )


@pytest.mark.parametrize(
    ("where", "expression", "expected"),
    [
        ("calculated", 'columns["first"] +', "calculated[0] (name.full).expression: SyntaxError"),
        ("calculated", "while (true) {}", "calculated[0] (name.full).expression: SyntaxError"),
        ("calculated", "1); (2", "calculated[0] (name.full).expression: SyntaxError"),
        ("calculated", 'columns["middle"]', "has no column 'middle'"),
        ("calculated", "  ", "the expression is empty"),
        ("filter", "columns.email ===", "clients).filter: SyntaxError"),
        ("id", "columns[", "clients).id.expression: SyntaxError"),
    ],
)
def test_bad_expressions_are_refused_with_path_and_engine_message(
    where: str, expression: str, expected: str
) -> None:
    raw = raw_project()
    rule = raw["collections"][0]
    if where == "calculated":
        rule["calculated"][0]["expression"] = expression
    elif where == "filter":
        rule["filter"] = expression
    else:
        rule["id"] = {"expression": expression}
    found = problems(raw)
    assert any(expected in p for p in found), found


def test_custom_id_needs_exactly_one_source_and_real_columns() -> None:
    raw = raw_project()
    raw["collections"][0]["id"] = {"columns": ["email"], "expression": "1"}
    assert any("either columns or an expression" in p for p in problems(raw))
    raw["collections"][0]["id"] = {"columns": ["mail"]}
    assert any("id.columns: table app.client has no column 'mail'" in p for p in problems(raw))


def test_calculated_field_names() -> None:
    raw = raw_project()
    raw["collections"][0]["calculated"][0]["name"] = "email"
    assert any("field 'email' is mapped twice" in p for p in problems(raw))
    raw["collections"][0]["calculated"][0]["name"] = "email.domain"
    assert any(
        "'email.domain' and field 'email' would overwrite each other" in p for p in problems(raw)
    )
    raw["collections"][0]["calculated"][0]["name"] = "_id"
    assert any("use the rule's custom _id" in p for p in problems(raw))
    raw["collections"][0]["calculated"][0]["name"] = "a.$b"
    assert any("is not a valid field path" in p for p in problems(raw))


def test_project_model_accepts_the_plain_id_modes_still() -> None:
    raw = raw_project()
    raw["collections"][0]["id"] = "objectid"
    assert parse_project(raw, "p.yaml").collections[0].id == "objectid"
    assert isinstance(Project.model_validate(raw_project()), Project)
