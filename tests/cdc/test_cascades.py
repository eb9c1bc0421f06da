"""MariaDB cascades and native UUID / INET6 values through CDC (issue 26), on the cascade rig
(tests/cascade_rig.py): after random transactions that delete parents, change their keys and
null children, the target equals a fresh snapshot; with cascade routing off, verify finds what
the binlog never said.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator

import pymysql
import pytest

from cascade_rig import (
    make_cascade_rig,
    op_delete_drug,
    op_delete_patient,
    op_rekey_drug,
    op_rekey_patient,
)
from cdc_rig import Rig, cleanup_rig, make_mysql_rig
from relmig.apply import applier
from relmig.failpoints import ARM, LOG, fired
from relmig.project.file import save_project
from relmig.project.model import CollectionRule, FieldRule
from relmig.route.cascades import followed_cascades

pytestmark = [
    pytest.mark.services,
    pytest.mark.filterwarnings("ignore:'db' is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Did not recognize type:sqlalchemy.exc.SAWarning"),
]


@pytest.fixture(scope="session")
def mongo_uri(any_target_uri: str) -> str:
    return any_target_uri


@pytest.fixture
def cascade_rig(services_settings, mongo_uri, tmp_path) -> Iterator[Rig]:
    r = make_cascade_rig(services_settings, mongo_uri, tmp_path)
    yield r
    cleanup_rig(r)


def test_cascades_and_trimmed_uuids_converge(cascade_rig: Rig) -> None:
    rig = cascade_rig
    job_id = rig.start("continuous")
    rig.streaming(job_id)
    rig.verify()
    transactions = int(os.environ.get("RELMIG_CASCADE_TRANSACTIONS", "25"))
    for seed in range(3):
        committed = rig.workload(random.Random(seed), transactions)
        assert committed > transactions // 3
        rig.caught_up(job_id)
        rig.verify()
    job = rig.store.job(job_id)
    assert job["status"] == "RUNNING", job["failure"]
    assert rig.store.issues_of(job_id) == []
    trimmed = rig.query("SELECT COUNT(*) FROM patients WHERE HEX(patient_id) LIKE '%00'")
    assert trimmed[0][0] > 0  # the test did exercise the trimmed values


def test_without_cascade_routing_verify_finds_the_children_left_behind(
    cascade_rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mutation test: the same job with cascade routing off leaves documents behind."""
    monkeypatch.setattr(applier, "binlog_cascades", lambda project: [])
    rig = cascade_rig
    job_id = rig.start("continuous")
    rig.streaming(job_id)
    rig.execute(op_delete_patient(rig, random.Random(1)) + op_delete_drug(rig, random.Random(2)))
    rig.caught_up(job_id)
    with pytest.raises(AssertionError) as failed:
        rig.verify()
    report = str(failed.value)
    assert "'visits'" in report and "'prescriptions'" in report


def test_check_names_each_cascade_it_follows(cascade_rig: Rig) -> None:
    project = cascade_rig.project
    lines = followed_cascades(project, None)
    text = "\n".join(line for line, _ in lines)
    assert all(followed for _, followed in lines), text
    assert "ON DELETE SET NULL, ON UPDATE CASCADE" in text
    assert "in drugs, through the parent's change" in text
    assert "in prescriptions, found by _id.patient_id, _id.visit_no" in text
    assert "in patients, found by visits.prescriptions.drug_id" in text
    # A child whose cascade column is not in the documents cannot be followed there: said so.
    rules = project.collections
    hidden = rules[2].model_copy(update={"fields": {"drug_id": FieldRule(include=False)}})
    lines = followed_cascades(
        project.model_copy(update={"collections": [*rules[:2], hidden, rules[3]]}),
        None,
    )
    refused = [line for line, followed in lines if not followed]
    assert refused and "column drug_id of" in refused[0] and "prescriptions" in refused[0]


def test_an_unmapped_parent_is_watched_for_its_cascades(cascade_rig: Rig) -> None:
    """drugs is mapped nowhere, but deleting or re-keying a drug rewrites prescriptions."""
    rig = cascade_rig
    (rule,) = [c for c in rig.project.collections if c.name == "prescriptions"]
    rig.project = rig.project.model_copy(
        update={"collections": [rule.model_copy(update={"embeds": []})]}
    )
    job_id = rig.start("continuous")
    rig.streaming(job_id)
    for seed in range(4):
        rig.execute(op_delete_drug(rig, random.Random(seed)))
        rig.execute(op_rekey_drug(rig, random.Random(seed)))
    rig.caught_up(job_id)
    rig.verify()


def test_a_key_the_binlog_cannot_carry_is_an_issue_not_a_crash(
    services_settings, mongo_uri, tmp_path
) -> None:
    """A zero date is lost in the binlog: as a key, its change cannot be routed. The job
    follows its error policy with a message naming table, key and column (FAIL here)."""

    def load(conn: pymysql.connections.Connection) -> None:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE days (day DATE PRIMARY KEY, note VARCHAR(20))")
            cur.execute("INSERT INTO days VALUES ('2024-01-01', 'a')")

    rig = make_mysql_rig(
        services_settings,
        mongo_uri,
        tmp_path,
        load,
        lambda p: [CollectionRule(name="days", table=f"{p.source.database}.days")],
    )
    try:
        job_id = rig.start("continuous")
        rig.streaming(job_id)
        rig.execute([("SET SESSION sql_mode = ''", ()), ("UPDATE days SET day = '0000-00-00'", ())])
        with pytest.raises(AssertionError, match="job failed") as failed:
            rig.wait_for(job_id, lambda j: False)
        message = str(failed.value)
        assert "days key (not in the binlog) column day" in message
        assert "zero or partly zero date" in message
        (issue,) = rig.store.issues_of(job_id)
        assert (issue["field"], issue["severity"]) == ("day", "ERROR")
    finally:
        cleanup_rig(rig)


def test_a_kill_after_the_cascades_were_written_replays_them(cascade_rig: Rig, tmp_path) -> None:
    """SIGKILL between the target write and the checkpoint of a batch whose cascades were
    routed: the resumed job replays it (the target no longer holds the children it removed,
    so the replay searches by the known key parts and finds the rest), then converges."""
    rig = cascade_rig
    project_file = tmp_path / "project.yaml"
    save_project(rig.project, project_file)
    log = tmp_path / "crash.log"
    target = ["--target", rig.target_uri, "--database", rig.target_db]
    child = subprocess.Popen(
        [sys.executable, "-m", "relmig.cli", "sync", str(project_file), *target],
        env={
            **os.environ,
            "RELMIG_STATE_URL": rig.store.url,
            ARM: "cdc-batch-written",
            LOG: str(log),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    job_id = rig.wait_for_new_job()
    rig.streaming(job_id)
    rng = random.Random(7)
    cascading = [op_delete_patient, op_rekey_patient, op_rekey_drug, op_delete_drug]
    assert rig.execute([s for op in cascading for s in op(rig, rng)])
    assert child.wait(120) == -signal.SIGKILL, child.stderr.read() if child.stderr else ""
    assert "cdc-batch-written" in fired(str(log))
    rig.manager.recover_stale()
    rig.manager.resume(job_id)
    rig.streaming(job_id)
    rig.workload(rng, 15)
    rig.caught_up(job_id)
    rig.verify()
