"""The project file: round trip, and errors that name the file, the path and the problem."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from relmig.errors import ProjectFileError
from relmig.project.file import dump_project, load_project, save_project
from relmig.project.model import (
    CollectionRule,
    Column,
    EmbedRule,
    ForeignKey,
    Project,
    SourceSettings,
    Table,
)


def sample_project() -> Project:
    orders = Table(
        schema="public",
        name="orders",
        columns=[
            Column(name="id", type="integer", nullable=False),
            Column(name="customer_id", type="integer"),
        ],
        primary_key=["id"],
        foreign_keys=[
            ForeignKey(
                name="orders_customer_fk",
                columns=["customer_id"],
                ref_table="public.customers",
                ref_columns=["id"],
            )
        ],
    )
    customers = Table(
        schema="public",
        name="customers",
        columns=[
            Column(name="id", type="integer", nullable=False),
            Column(name="größe", type="text"),
        ],
        primary_key=["id"],
    )
    return Project(
        name="shop",
        source=SourceSettings(dialect="postgresql", database="shop", user="me"),
        tables=[orders, customers],
        collections=[
            CollectionRule(
                name="orders",
                table="public.orders",
                embeds=[
                    EmbedRule(
                        kind="document",
                        table="public.customers",
                        foreign_key="orders_customer_fk",
                        field="customer",
                    )
                ],
            )
        ],
    )


def test_round_trip_keeps_everything(tmp_path: Path) -> None:
    project = sample_project()
    path = tmp_path / "p.yaml"
    save_project(project, path)
    assert load_project(path) == project
    text = path.read_text(encoding="utf-8")
    assert "größe" in text  # unicode stays readable
    assert "password" not in text.replace("password_env", "")


def test_invalid_file_names_file_path_and_problem(tmp_path: Path) -> None:
    data = yaml.safe_load(dump_project(sample_project()))
    data["collections"][0]["embeds"][0]["kind"] = "sideways"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ProjectFileError) as err:
        load_project(path)
    message = str(err.value)
    assert str(path) in message
    assert "collections[0] (orders).embeds[0].kind" in message
    assert "'array' or 'document'" in message


def test_dangling_references_are_all_reported(tmp_path: Path) -> None:
    data = yaml.safe_load(dump_project(sample_project()))
    data["collections"][0]["table"] = "public.nope"
    data["tables"][0]["foreign_keys"][0]["ref_columns"] = ["missing"]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ProjectFileError) as err:
        load_project(path)
    message = str(err.value)
    assert "unknown table 'public.nope'" in message
    assert "unknown column public.customers.missing" in message


def test_wrong_foreign_key_direction_is_explained(tmp_path: Path) -> None:
    data = yaml.safe_load(dump_project(sample_project()))
    data["collections"][0]["embeds"][0]["kind"] = "array"  # the FK is on orders, not customers
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(
        ProjectFileError, match=r"public\.customers has no foreign key 'orders_customer_fk'"
    ):
        load_project(path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("version: 1\nname: [unclosed", "not valid YAML"),
        ("- just\n- a list\n", "mapping at the top level"),
        ("version: 2\nname: x\n", "version"),
    ],
)
def test_malformed_files(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ProjectFileError, match=expected):
        load_project(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProjectFileError, match="No such file"):
        load_project(tmp_path / "absent.yaml")


def test_unknown_keys_are_rejected(tmp_path: Path) -> None:
    data = yaml.safe_load(dump_project(sample_project()))
    data["source"]["password"] = "hunter2"
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ProjectFileError) as err:
        load_project(path)
    assert "source.password: Password is not a setting here" in str(err.value)
    assert "Extra inputs" not in str(err.value)
    assert "(line " in str(err.value)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("version: 1\nname: a: b\n", "line 2, column 8: a ':' where no key can start"),
        ("version: 1\nsource:\n\tdialect: mysql\n", "line 3, column 1: a tab character"),
        ("version: 1\nname: [x\n", "line 3, column 1: a list opened with '['"),
        ("version: 1\nsource:\n  a: 1\n b: 2\n", "line 4, column 2: the indentation"),
    ],
)
def test_yaml_mistakes_say_line_and_column_in_plain_words(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ProjectFileError) as err:
        load_project(path)
    assert expected in str(err.value)


def _merged_project(field_name: str) -> dict:
    data = yaml.safe_load(dump_project(sample_project()))
    data["tables"][1]["columns"].append({"name": "contact_name", "type": "text"})
    data["tables"][0]["columns"].append({"name": "ship_name", "type": "text"})
    embed = data["collections"][0]["embeds"][0]
    embed["merge"] = True
    embed["fields"] = {"contact_name": {"name": field_name}, "größe": {"include": False}}
    data["collections"][0]["fields"] = {"ship_name": {"name": "shipName"}}
    return data


def test_merged_embedded_document_may_not_overwrite_a_parent_field(tmp_path: Path) -> None:
    from relmig.project.file import parse_project

    with pytest.raises(ProjectFileError) as err:
        parse_project(_merged_project("shipName"), "p")
    # The customer's id lands on the order's id too: both are reported at the merged field.
    assert err.value.problems == [
        "collections[0] (orders).embeds[0].fields.id: the field id already comes from orders "
        "(column id)",
        "collections[0] (orders).embeds[0].fields.contact_name: the field shipName already "
        "comes from orders (column ship_name)",
    ]
    # Renamed and excluded out of the way, it holds.
    data = _merged_project("contactName")
    data["collections"][0]["embeds"][0]["fields"]["id"] = {"include": False}
    assert parse_project(data, "p").collections[0].embeds[0].merge


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("", "a collection name is required"),
        ("a$b", "contains '$'"),
        ("system.users", "starts with 'system.'"),
        ("a\0b", "NUL character"),
        ("x" * 191, "191 bytes long"),
    ],
)
def test_collection_names_mongodb_refuses(name: str, expected: str) -> None:
    from relmig.project.file import parse_project

    data = yaml.safe_load(dump_project(sample_project()))
    data["collections"][0]["name"] = name
    with pytest.raises(ProjectFileError, match=re.escape(expected)):
        parse_project(data, "p")


def test_a_dot_in_a_collection_name_warns() -> None:
    from relmig.project.file import parse_project
    from relmig.project.validate import warnings

    data = yaml.safe_load(dump_project(sample_project()))
    data["collections"][0]["name"] = "sales.orders"
    project = parse_project(data, "p")
    assert len(warnings(project)) == 1 and "contains '.'" in warnings(project)[0]
    assert warnings(sample_project()) == []


def test_replication_route_round_trips_and_stays_out_until_set(tmp_path: Path) -> None:
    project = sample_project()
    assert "replication_" not in dump_project(project)
    source = project.source.model_copy(update={"replication_host": "proxy", "replication_port": 6})
    routed = project.model_copy(update={"source": source})
    path = tmp_path / "p.yaml"
    save_project(routed, path)
    loaded = load_project(path)
    assert (loaded.source.replication_host, loaded.source.replication_port) == ("proxy", 6)


@pytest.mark.parametrize(
    ("dialect", "setting", "expected"),
    [
        ("mysql", {"replication_port": 25433}, "source.replication_port: only a PostgreSQL"),
        ("mysql", {"replication_host": "h"}, "source.replication_host: only a PostgreSQL"),
        ("postgresql", {"replication_port": 70000}, "source.replication_port: 70000 is not a TCP"),
        ("postgresql", {"port": 0}, "source.port: 0 is not a TCP port"),
        ("postgresql", {"replication_host": " "}, "source.replication_host: is empty"),
    ],
)
def test_bad_replication_route_is_refused(
    tmp_path: Path, dialect: str, setting: dict[str, object], expected: str
) -> None:
    data = yaml.safe_load(dump_project(sample_project()))
    data["source"].update(dialect=dialect, **setting)
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ProjectFileError, match=expected) as err:
        load_project(path)
    assert str(path) in str(err.value)


def test_a_yaml_bomb_or_deep_nesting_is_refused_before_it_expands():
    from relmig.project.file import parse_project_text

    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(20):  # 9**20 strings once expanded
        prev, name = chr(97 + i), chr(98 + i)
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    with pytest.raises(ProjectFileError, match=r"more than 100 aliases"):
        parse_project_text("\n".join(lines), "bomb.yaml")
    with pytest.raises(ProjectFileError, match=r"nested deeper than 64"):
        parse_project_text("name: " + "[" * 500 + "]" * 500, "deep.yaml")
    with pytest.raises(ProjectFileError, match=r"larger than 16 MiB"):
        parse_project_text("#" * (16 * 2**20 + 1), "huge.yaml")


def test_a_table_no_rule_can_map_is_named_with_what_would_make_it_mappable() -> None:
    """Issue 30 §4: a key-less table is not left out of the mapping without a word."""
    from relmig.project.validate import warnings

    project = sample_project()
    log = Table(schema="public", name="log", columns=[Column(name="line", type="text")])
    project = project.model_copy(update={"tables": [*project.tables, log]})
    [warning] = warnings(project)
    assert warning.startswith("tables[2] (public.log): not mapped: it has no primary key")
    assert "ALTER TABLE public.log ADD PRIMARY KEY (...)" in warning
