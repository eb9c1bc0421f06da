"""The CLI end to end: import, snapshot, verify, jobs; and clear messages for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.services


def relmig(
    *args: str, env: dict[str, str] | None = None, timeout: int = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relmig.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def test_help_lists_commands() -> None:
    out = relmig("--help")
    assert out.returncode == 0
    for command in ("import", "snapshot", "verify", "preview", "jobs"):
        assert command in out.stdout
    assert relmig("--version").stdout.startswith("relmig ")


def test_import_snapshot_verify_jobs(
    pg_sample, services_settings, mongo_uri, tmp_path: Path, target
) -> None:
    s = services_settings
    env = {"RELMIG_HOME": str(tmp_path / "home"), "RELMIG_SOURCE_PASSWORD": s["RELMIG_PG_PASSWORD"]}
    url = f"postgresql://{s['RELMIG_PG_USER']}@{s['RELMIG_HOST']}:{s['RELMIG_PG_PORT']}/{pg_sample.database}"
    project = tmp_path / "p.yaml"
    out = relmig("import", url, "-o", str(project), "--casing", "camel", "--json", env=env)
    assert out.returncode == 0, out.stderr
    imported = json.loads(out.stdout)
    assert imported["casing"] == "camel" and "orders" in imported["collections"]
    assert "public.orders" in imported["tables"] and imported["warnings"] == []
    assert yaml.safe_load(project.read_text())["casing"] == "camel"
    source = yaml.safe_load(project.read_text())["source"]
    assert "password" not in source and source["password_env"] == "RELMIG_SOURCE_PASSWORD"
    assert relmig("import", url, "-o", str(project), env=env).returncode == 2  # no silent overwrite

    preview = relmig("preview", str(project), "orders", env=env)
    assert preview.returncode == 0 and '"orderDetails"' in preview.stdout

    args = ["--target", mongo_uri, "--database", target.db.name]
    snap = relmig(
        "snapshot", str(project), *args, "--drop", "--on-error", "SKIP", "--verify", env=env
    )
    assert snap.returncode == 0, snap.stderr
    assert "COMPLETED" in snap.stdout and "target equals source" in snap.stdout
    assert relmig("verify", str(project), *args, env=env).returncode == 0

    # The job id comes first, so a script can read it before the job ends.
    first = snap.stdout.splitlines()[0].split()
    assert first[0] == "Job" and first[1].startswith("job-")
    job_id = first[1]
    # A unique prefix is enough; human units, no `None`; the verify result the job stored.
    shown = relmig("jobs", "show", job_id[:7], env={**env, "COLUMNS": "80"})
    assert shown.returncode == 0 and "COMPLETED" in shown.stdout and "type_zoo" in shown.stdout
    assert "None" not in shown.stdout and "target equals source" in shown.stdout
    as_json = json.loads(relmig("jobs", "show", job_id, "--json", env=env).stdout)
    assert as_json["job"]["id"] == job_id and as_json["job"]["verify_result"]["ok"] is True
    # Issues are wrapped for an 80-column terminal (the type zoo's values fail under SKIP).
    issues = shown.stdout[shown.stdout.index("Issues (") :].splitlines()
    assert as_json["issues"] and all(len(line) <= 80 for line in issues)
    # Not a terminal: plain columns, no box drawing, the full id whatever the width.
    listed = relmig("jobs", "list", env={**env, "COLUMNS": "40"}).stdout
    assert job_id in listed and not set("┃│┏━─") & set(listed)
    assert [j["id"] for j in json.loads(relmig("jobs", "list", "--json", env=env).stdout)] == [
        job_id
    ]

    target.db.orders.delete_one({"_id": 1})
    failed = relmig("verify", str(project), *args, env=env)
    assert failed.returncode == 1 and "missing 1" in failed.stdout
    report = json.loads(relmig("verify", str(project), *args, "--json", env=env).stdout)
    orders = next(c for c in report["collections"] if c["name"] == "orders")
    assert report["ok"] is False and (orders["missing"], orders["examples"][0]["kind"]) == (
        1,
        "missing",
    )


def _project(tmp_path: Path, pg_sample, **source: object) -> Path:
    from relmig.project.file import save_project
    from relmig.project.model import Project

    settings = pg_sample.model_copy(update=source)
    path = tmp_path / "p.yaml"
    save_project(Project(name="x", source=settings, tables=[]), path)
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import", "oracle://u@h/db", "-o", "x.yaml"], "unsupported source 'oracle'"),
        (["import", "postgresql://relmig@127.0.0.1:1/db", "-o", "x.yaml"], "cannot"),
        (
            ["import", "postgresql://relmig@127.0.0.1/db", "-o", "x.yaml", "--mapping", "odd"],
            "--mapping",
        ),
        (["snapshot", "absent.yaml", "--target", "mongodb://127.0.0.1:27017/"], "absent.yaml"),
        (["jobs", "show", "job-nope"], "no job 'job-nope'"),
        (["jobs", "show", "job-nope", "--json"], "no job 'job-nope'"),
    ],
)
def test_bad_input_gets_a_clear_message(args: list[str], message: str, tmp_path: Path) -> None:
    out = relmig(*args, env={"RELMIG_HOME": str(tmp_path)})
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    if "--json" in args:  # a script parsing stdout gets the error too
        assert message in json.loads(out.stdout)["error"]


def test_unreachable_servers_are_named(pg_sample, tmp_path: Path, mongo_uri: str) -> None:
    env = {"RELMIG_HOME": str(tmp_path), "RELMIG_TEST_PG_PASSWORD": "wrong"}
    bad_source = _project(tmp_path, pg_sample, port=1)
    out = relmig("verify", str(bad_source), "--target", mongo_uri, env=env)
    assert out.returncode == 2 and "127.0.0.1:1/relmig_t_sample" in out.stderr
    assert "Traceback" not in out.stderr
    good_source = _project(tmp_path, pg_sample)
    env["RELMIG_TEST_PG_PASSWORD"] = os.environ.get("RELMIG_TEST_PG_PASSWORD", "relmig")
    out = relmig(
        "verify",
        str(good_source),
        "--target",
        "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500",
        env=env,
    )
    assert out.returncode == 2 and "cannot reach the MongoDB target" in out.stderr
    assert "Traceback" not in out.stderr


def test_invalid_project_file_names_the_path(tmp_path: Path, pg_sample) -> None:
    path = _project(tmp_path, pg_sample)
    data = yaml.safe_load(path.read_text())
    data["collections"] = [{"name": "c", "table": "public.nowhere"}]
    path.write_text(yaml.safe_dump(data))
    out = relmig("verify", str(path), "--target", "mongodb://127.0.0.1:27017/")
    assert out.returncode == 2
    assert str(path) in out.stderr and "unknown table 'public.nowhere'" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_missing_password_says_where_it_should_come_from(pg_sample, tmp_path: Path) -> None:
    """Not a lost link to retry: the job would fail the same way every time."""
    path = _project(tmp_path, pg_sample)
    env = {"RELMIG_HOME": str(tmp_path), "RELMIG_TEST_PG_PASSWORD": ""}
    out = relmig("verify", str(path), "--target", "mongodb://127.0.0.1:27017/", env=env)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    message = " ".join(out.stderr.split())
    assert "no password was given: set it in the environment variable RELMIG_TEST_PG_PASSWORD" in (
        message
    )


def test_a_database_name_the_target_refuses_is_refused_with_its_words(
    pg_sample, tmp_path: Path
) -> None:
    """FerretDB v1 refuses non-ASCII database names; the job is refused before it starts."""
    path = _project(tmp_path, pg_sample)
    env = {"RELMIG_HOME": str(tmp_path)}
    target = "mongodb://127.0.0.1:27017/"
    out = relmig("snapshot", str(path), "--target", target, "--database", "café", env=env)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    message = " ".join(out.stderr.split())
    assert "refuses the database name 'café': Invalid namespace specified" in message
