"""Schema drift at the source of a running continuous job, on PostgreSQL and MariaDB.

A new column is shown (the job, its API description and `jobs show`) and the job goes on; a
renamed or retyped mapped column pauses the job before anything after the DDL is applied, with
the drift and a resume window; a resume meets the same change and pauses again.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest
from typer.testing import CliRunner

from cdc_rig import Rig
from relmig.cli.app import app
from relmig.mongo.writer import MongoTarget

pytestmark = pytest.mark.services


def shipper_values(rig: Rig) -> str:
    """Every shipper sub-document in the orders collection, as text."""
    target = MongoTarget(rig.target_uri, rig.target_db)
    try:
        return " ".join(str(d.get("shipper")) for d in target.db["orders"].find({}))
    finally:
        target.close()


def shipper_of_an_order(rig: Rig) -> int:
    return rig.query("SELECT ship_via FROM orders WHERE ship_via IS NOT NULL LIMIT 1")[0][0]


def shown(rig: Rig, job_id: str, monkeypatch) -> str:
    """`relmig jobs show` on the job's store."""
    monkeypatch.setenv("RELMIG_STATE_URL", rig.store.url)
    result = CliRunner().invoke(app, ["jobs", "show", job_id], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_a_new_column_is_shown_and_the_job_goes_on(rig: Rig, monkeypatch) -> None:
    job_id = rig.start("continuous")
    rig.streaming(job_id)
    shipper = shipper_of_an_order(rig)
    rig.execute([("ALTER TABLE shippers ADD COLUMN note VARCHAR(20)", ())])
    rig.workload(random.Random(3), 5)
    rig.execute(
        [("UPDATE shippers SET note = 'n', phone = 'after-add' WHERE shipper_id = %s", (shipper,))]
    )
    rig.caught_up(job_id)

    job = rig.manager.describe(job_id)
    assert job["status"] == "RUNNING"
    [drift] = job["drift"]
    assert (drift["kind"], drift["column"], drift["breaking"]) == ("new column", "note", False)
    assert drift["table"].endswith("shippers") and "has a new column note" in drift["text"]
    assert "after-add" in shipper_values(rig)  # changes to the table go on being applied
    rig.verify()
    assert "schema drift since" in (text := shown(rig, job_id, monkeypatch))
    assert "shippers has a new column note" in text


BREAKING = {
    "rename": (
        {"postgresql": "ALTER TABLE shippers RENAME COLUMN phone TO telephone"},
        ("column gone", "phone"),
    ),
    "retype": (
        {
            "postgresql": "ALTER TABLE shippers ALTER COLUMN phone TYPE text",
            "mysql": "ALTER TABLE shippers MODIFY phone TEXT",
        },
        ("type changed", "phone"),
    ),
}


@pytest.mark.parametrize("change", sorted(BREAKING))
def test_a_breaking_change_pauses_the_job_before_anything_after_it(
    rig: Rig, change, monkeypatch
) -> None:
    statements, found = BREAKING[change]
    ddl = statements.get(rig.dialect, statements["postgresql"])
    job_id = rig.start("continuous")
    rig.streaming(job_id)
    shipper = shipper_of_an_order(rig)
    update = "UPDATE shippers SET {} WHERE shipper_id = %s"
    rig.execute([(update.format("phone = 'before-ddl'"), (shipper,))])
    rig.caught_up(job_id)
    rig.execute([(ddl, ())])
    rig.execute([(update.format("company_name = 'after-ddl'"), (shipper,))])
    rig.wait_for(job_id, lambda j: j["status"] == "PAUSED")

    values = shipper_values(rig)
    assert "before-ddl" in values and "after-ddl" not in values
    job = rig.manager.describe(job_id)
    assert job["cdc_status"] == "PAUSED" and not job["failure"]
    gone = [d for d in job["drift"] if d["breaking"]]
    assert [(d["kind"], d["column"]) for d in gone] == [found]
    assert "phone" in job["stop_reason"]
    # The slot keeps the changes for a fix, for the recovery window from the pause.
    assert job["resumable"]
    left = job["resume_deadline"] - dt.datetime.now(dt.UTC)
    assert dt.timedelta(hours=23) < left <= dt.timedelta(hours=24)
    text = shown(rig, job_id, monkeypatch)
    assert "schema change (paused the job)" in text and "resumable until" in text

    rig.manager.resume(job_id)
    rig.wait_for(job_id, lambda j: j["status"] == "PAUSED")
    assert "after-ddl" not in shipper_values(rig)
    again = rig.manager.describe(job_id)
    assert [d["column"] for d in again["drift"] if d["breaking"]] == ["phone"]
    assert again["resume_deadline"] == job["resume_deadline"]
