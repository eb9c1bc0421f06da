"""`relmig convert` as a user runs it: a file of queries, a view, --verify, and bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from queries_rig import Migrated, migrate
from typer.testing import CliRunner

from relmig.cli.app import app
from relmig.project.file import save_project

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def migrated(
    samples: dict, target_uris: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Migrated]:
    yield from migrate(
        samples["postgresql"], target_uris["mongo2"], "mongo2", tmp_path_factory.mktemp("cli")
    )


@pytest.fixture
def project_file(migrated: Migrated, tmp_path: Path) -> Path:
    path = tmp_path / "project.yaml"
    save_project(migrated.project, path)
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["convert", *args])
    return result.exit_code, result.output


def target_args(migrated: Migrated) -> list[str]:
    return ["--target", migrated.target.uri, "--database", migrated.target.db.name]


def test_a_file_of_queries_is_converted_and_checked(
    migrated: Migrated, project_file: Path, tmp_path: Path
) -> None:
    queries = tmp_path / "queries.sql"
    queries.write_text(
        "-- the first ten orders\nSELECT order_id, order_date FROM orders WHERE order_id <= 10;\n"
        "SELECT o.order_id, d.quantity FROM orders o\n"
        "JOIN order_details d ON d.order_id = o.order_id;\n"
    )
    code, out = run(str(project_file), "--file", str(queries), "--verify", *target_args(migrated))
    assert code == 0, out
    assert out.count("equal") == 2 and 'db.getCollection("orders").aggregate(' in out
    queries.write_text(
        "SELECT order_id FROM orders;\n"
        "SELECT 1 AS x FROM orders o FULL JOIN shippers s ON s.shipper_id = o.ship_via"
    )
    code, out = run(str(project_file), "--file", str(queries), "--verify", *target_args(migrated))
    assert code == 1 and "cannot convert: FULL JOIN" in out and "equal" in out


def test_a_view_is_converted_from_its_definition(migrated: Migrated, project_file: Path) -> None:
    s = migrated.project.source
    dsn = f"host={s.host} port={s.port} user={s.user} dbname={s.database}"
    with psycopg.connect(dsn, password=migrated.source.password, autocommit=True) as conn:
        conn.execute(
            "CREATE OR REPLACE VIEW heavy_orders AS SELECT order_id, freight FROM orders "
            "WHERE freight > 100"
        )
    code, out = run(str(project_file), "--view", "heavy_orders", "--verify", *target_args(migrated))
    assert code == 0, out
    assert '"freight": {"$gt": NumberDecimal("100")}' in out and "equal" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["SELECT 1", "--lang", "java"], "unknown --lang 'java'"),
        ([], "give one query, or --file FILE, or --view NAME"),
        (["SELECT order_id FROM orders", "--verify"], "--verify runs the conversion on a target"),
        (["--file", "/nonexistent.sql"], "cannot read /nonexistent.sql"),
        (["--view", "no_such_view"], "no view named no_such_view"),
    ],
)
def test_bad_input_gets_a_clear_message(project_file: Path, args: list[str], message: str) -> None:
    code, out = run(str(project_file), *args)
    assert code == 2 and message in out, out
    assert "Traceback" not in out


def test_a_project_that_maps_nothing_is_refused(migrated: Migrated, tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    save_project(migrated.project.model_copy(update={"collections": []}), path)
    code, out = run(str(path), "SELECT 1")
    assert code == 2 and "maps no collections" in out


def test_a_refused_query_is_printed_as_written(project_file: Path) -> None:
    """The SQL and the refusal quoting it are the user's text, brackets included (no markup)."""
    sql = "SELECT ROW_NUMBER() OVER () AS x FROM orders WHERE ship_name = '[red]'"
    code, out = run(str(project_file), sql)
    assert code == 1 and f"-- {sql}" in out, out
    assert "cannot convert: a window function" in out


def test_a_pipeline_the_target_refuses_is_reported_not_raised(migrated: Migrated) -> None:
    """An operator no probe covers: the check says the target did not run it (no traceback)."""
    from relmig.errors import RelmigError
    from relmig.queries.check import check
    from relmig.queries.convert import Conversion, Output

    bogus = Conversion("SELECT order_id FROM orders", "orders", [{"$noSuchStage": {}}],
                       [Output("order_id", "order_id", "int")])  # fmt: skip
    with pytest.raises(RelmigError, match="the target did not run the converted query"):
        check(bogus, migrated.source, migrated.target)
