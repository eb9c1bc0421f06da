"""Changing the mapping of a running continuous job (`relmig jobs update`), on PostgreSQL and
MariaDB, under the CDC rig's random workload.

A column added at the source and a new embedding reach the target without a new job: only the
collections they change are copied again (a stray document in an unchanged collection
survives), while changes stream; a renamed mapped column pauses the job, and an update with the
re-imported table resumes it. After each, the target equals a fresh snapshot of the source.
"""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cdc_rig import Rig, fk, op_shipper
from relmig.cli.app import app
from relmig.mongo.writer import MongoTarget
from relmig.project.file import save_project
from relmig.project.model import CollectionRule, EmbedRule, Project
from relmig.schema.introspect import import_tables

pytestmark = pytest.mark.services

STRAY = {"_id": "stray", "note": "no source row: a copy of the collection would remove it"}


def reimported(rig: Rig, project: Project, name: str) -> Project:
    """The project with one table imported again from the source, as `relmig import` does."""
    table_id = f"{rig.project.table(next(t.id for t in rig.project.tables if t.name == name)).id}"
    [fresh] = import_tables(rig.settings, only=[table_id])
    tables = [fresh if t.id == table_id else t for t in project.tables]
    return Project.model_validate({**project.model_dump(by_alias=True), "tables": tables})


def with_rules(project: Project, rules: list[CollectionRule]) -> Project:
    return Project.model_validate(
        {**project.model_dump(by_alias=True), "collections": [r.model_dump() for r in rules]}
    )


def done(rig: Rig, job_id: str) -> bool:
    rows = rig.store.recopies_of(job_id)
    return bool(rows) and all(r["state"] == "DONE" for r in rows)


def cli(rig: Rig, monkeypatch, *args: str, code: int = 0) -> str:
    monkeypatch.setenv("RELMIG_STATE_URL", rig.store.url)
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == code, result.output
    return result.output


def test_a_running_job_takes_a_new_column_a_new_embedding_and_a_renamed_column(
    rig: Rig, monkeypatch, tmp_path: Path
) -> None:
    rng = random.Random(22)
    job_id = rig.start("continuous", batch_size=100)  # several chunks per copied collection
    rig.streaming(job_id)
    target = MongoTarget(rig.target_uri, rig.target_db)
    try:
        target.db["customers"].insert_one(STRAY)
        rig.workload(rng, 5)
        rig.execute([("ALTER TABLE shippers ADD COLUMN note VARCHAR(20)", ())])
        rig.execute([("UPDATE shippers SET note = 'added'", ())])

        # The new column, a products[] embedding in categories, a new collection.
        schema = rig.project.table(rig.project.collection("categories").table).schema_
        products = EmbedRule(
            kind="array",
            table=f"{schema}.products",
            foreign_key=fk(rig.project, f"{schema}.products", ["category_id"]),
            field="products",
        )
        rules = [
            r.model_copy(update={"embeds": [products]}) if r.name == "categories" else r
            for r in rig.project.collections
        ]
        rules.append(CollectionRule(name="shippers", table=f"{schema}.shippers"))
        new = with_rules(reimported(rig, rig.project, "shippers"), rules)
        project_file = tmp_path / "new.yaml"
        save_project(new, project_file)

        shown = json.loads(
            cli(rig, monkeypatch, "jobs", "update", job_id, str(project_file), "--json")
        )
        assert shown["applied"] is False
        plan = shown["plan"]
        assert (plan["rebuild"], plan["add"], plan["unchanged"]) == (
            ["orders", "categories"],
            ["shippers"],
            ["customers"],
        ), plan
        assert any("new column note" in r for r in plan["reasons"]["orders"])
        assert rig.store.recopies_of(job_id) == []  # a plan alone changes nothing

        if rig.dialect == "postgresql":  # products is now embedded: its old rows are needed
            refused = cli(
                rig, monkeypatch, "jobs", "update", job_id, str(project_file), "--yes", code=2
            )
            assert "REPLICA IDENTITY FULL" in refused and "products" in refused, refused
            assert rig.store.job(job_id)["request"] is None
            fix = rig.manager.check(new)
            assert fix is not None
            rig.execute([(line, ()) for line in fix.splitlines() if not line.startswith("--")])
        changes = threading.Thread(target=rig.workload, args=(rng, 15))
        changes.start()  # changes stream while the collections are copied
        out = cli(rig, monkeypatch, "jobs", "update", job_id, str(project_file), "--yes")
        changes.join()
        assert "took the new mapping" in out, out
        rig.wait_for(job_id, lambda _j: done(rig, job_id))
        rig.workload(rng, 5)
        rig.caught_up(job_id)
        rig.project = new
        assert target.db["customers"].find_one({"_id": "stray"}) is not None  # not copied
        assert target.db["shippers"].count_documents({"note": "added"}) > 0
        assert not [n for n in target.collections() if n.startswith("relmig_recopy_")]
        target.db["customers"].delete_one({"_id": "stray"})
        rig.verify()
        job = rig.manager.describe(job_id)
        assert job["status"] == "RUNNING" and job["drift"] == []
        shown = " ".join(cli(rig, monkeypatch, "jobs", "show", job_id).split())
        assert "Mapping update:" in shown and "orders copy again DONE" in shown, shown
        assert {u["collection"]: u["action"] for u in job["update"]} == {
            "orders": "copy",
            "categories": "copy",
            "shippers": "copy",
        }

        # A renamed mapped column pauses the job; the re-imported table is the fix.
        rig.operations = [op for op in rig.operations if op is not op_shipper]  # writes phone
        rig.execute([("ALTER TABLE shippers RENAME COLUMN phone TO telephone", ())])
        rig.execute([("UPDATE shippers SET telephone = 'renamed'", ())])
        rig.wait_for(job_id, lambda j: j["status"] == "PAUSED")
        fixed = reimported(rig, new, "shippers")
        plan = rig.manager.update(job_id, fixed).as_dict()
        assert (plan["rebuild"], plan["unchanged"]) == (
            ["orders", "shippers"],
            ["customers", "categories"],
        ), plan
        assert rig.manager.describe(job_id)["drift"] == []
        rig.manager.resume(job_id)
        rig.workload(rng, 10)
        rig.wait_for(job_id, lambda _j: done(rig, job_id))
        rig.caught_up(job_id)
        rig.project = fixed
        assert target.db["shippers"].count_documents({"telephone": "renamed"}) > 0
        rig.verify()
    finally:
        target.close()
