"""The project file: round trip, and errors that name the file, the path and the problem."""

from __future__ import annotations

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
    with pytest.raises(ProjectFileError, match=r"source\.password: Extra inputs are not permitted"):
        load_project(path)
