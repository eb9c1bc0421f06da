"""The error policy on rows the target cannot store, and resuming a snapshot killed halfway."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from relmig.project.file import save_project
from relmig.project.model import Project
from relmig.runtime.store import StateStore
from relmig.verify.compare import verify
from snapshot_jobs import run_snapshot

pytestmark = pytest.mark.services


def _zoo_only(project: Project) -> Project:
    project.collections = [c for c in project.collections if c.table.endswith(".type_zoo")]
    return project


def _zoo_ids(source) -> tuple[set[int], set[int]]:
    rows = source.fetch(
        f"SELECT id, is_edge FROM {source.quote(source.settings.schemas[0])}.type_zoo"
    )
    return {r[0] for r in rows if not r[1]}, {r[0] for r in rows if r[1]}


def test_fail_policy_stops_and_records(
    sample_settings, source, target, store, make_project
) -> None:
    project = _zoo_only(make_project(sample_settings))
    run_snapshot(project, target, store, on_error="FAIL")
    job = store.list_jobs()[0]
    assert job["status"] == "FAILED" and "first error" in job["failure"]
    issues = store.issues_of(job["id"])
    assert issues and all(i["key"] and i["table_id"].endswith("type_zoo") for i in issues)


def test_skip_policy_records_every_bad_row(
    sample_settings, source, target, store, make_project
) -> None:
    project = _zoo_only(make_project(sample_settings))
    clean, edge = _zoo_ids(source)
    job_id = run_snapshot(project, target, store, on_error="SKIP")
    assert store.job(job_id)["status"] == "COMPLETED"
    stored = {d["_id"] for d in target.db.type_zoo.find({}, {"_id": 1})}
    issues = store.issues_of(job_id)
    flagged = {int(i["key"]) for i in issues}
    assert stored.isdisjoint(flagged)
    _check_long_decimal(target, stored, flagged)
    assert len(flagged & edge) >= 3
    assert stored | flagged == clean | edge, "every row is either stored or recorded"
    assert all(i["field"] and i["detail"] for i in issues)
    assert verify(project, source, target).ok


def _check_long_decimal(target, stored: set[int], flagged: set[int]) -> None:
    """Row 7 (both dialects) holds a 65-digit decimal: Decimal128 cannot hold it exactly, so it
    is recorded; a target that stores decimals as strings (FerretDB v1) stores it exactly."""
    if target.decimals == "decimal128":
        assert 7 in flagged
        return
    assert 7 in stored
    value = target.db.type_zoo.find_one({"_id": 7})["c_numeric"]
    assert isinstance(value, str) and len(value.replace(".", "").lstrip("-0")) >= 60


def test_warn_policy_writes_rows_without_the_bad_values(
    sample_settings, source, target, store, make_project, capsys
) -> None:
    project = _zoo_only(make_project(sample_settings))
    _, edge = _zoo_ids(source)
    job_id = run_snapshot(project, target, store, on_error="WARN")
    issues = store.issues_of(job_id)
    warned = {int(i["key"]) for i in issues if i["severity"] == "WARNING"}
    assert len(warned & edge) >= 3
    assert (7 in warned) == (target.decimals == "decimal128")
    stored = {d["_id"] for d in target.db.type_zoo.find({}, {"_id": 1})}
    assert warned <= stored, "WARN keeps the row, without the value"
    doc = target.db.type_zoo.find_one({"_id": 7})
    if target.decimals == "decimal128":
        wide = next(i for i in issues if i["key"] == "7")
        assert wide["field"] == "c_numeric" and "Decimal128" in wide["detail"]
        assert "c_numeric" not in doc and doc["edge_case"], "the row is kept without the value"
    else:
        assert isinstance(doc["c_numeric"], str), "a string holds the 65 digits exactly"
    # Verify does not call the collection plainly "equal": the documents written without a
    # value are counted and shown (issue 23 §3), in the table and the summary.
    report = verify(project, source, target)
    [zoo] = report.collections
    assert report.ok and zoo.unmigratable == len(warned)
    from relmig.cli.job_cmds import print_verify

    print_verify(report.as_dict())
    shown = " ".join(capsys.readouterr().out.split())
    assert f"equal but {len(warned)} unmigratable" in shown
    assert f"target equals source except {len(warned)} unmigratable documents" in shown


def test_threshold_stops_after_n_errors(
    sample_settings, source, target, store, make_project
) -> None:
    project = _zoo_only(make_project(sample_settings))
    run_snapshot(project, target, store, on_error="SKIP", max_errors=2)
    job = store.list_jobs()[0]
    assert job["status"] == "FAILED" and "limit 2" in job["failure"]


def test_killed_snapshot_resumes_from_its_checkpoint(
    pg_sample, target, tmp_path: Path, make_project, mongo_uri: str
) -> None:
    """kill -9 halfway, resume: nothing starts over, nothing is lost or duplicated."""
    project = make_project(pg_sample)
    project.collections = [c for c in project.collections if c.name == "orders"]
    path = tmp_path / "p.yaml"
    save_project(project, path)
    env = {**os.environ, "RELMIG_HOME": str(tmp_path / "home")}
    args = [
        sys.executable,
        "-m",
        "relmig.cli",
        "snapshot",
        str(path),
        "--target",
        mongo_uri,
        "--database",
        target.db.name,
        "--batch-size",
        "5",
    ]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    store = StateStore(f"sqlite:///{tmp_path / 'home' / 'state.db'}")
    deadline = time.monotonic() + 60
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        progress = store.list_jobs() and store.progress_of(store.list_jobs()[0]["id"])
        done = progress[0]["rows_done"] if progress else 0
        if done >= 60:
            break
        time.sleep(0.05)
    assert proc.poll() is None, (
        f"the snapshot ended before it could be killed: {proc.stderr.read()}"
    )
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    job = store.list_jobs()[0]
    checkpoint = store.progress_of(job["id"])[0]
    assert 0 < checkpoint["rows_done"] < 300 and checkpoint["last_key"]
    assert job["status"] == "RUNNING"  # a dead process cannot mark itself

    resumed = subprocess.run(
        [*args[:-2], "--batch-size", "50", "--resume", job["id"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    final = store.progress_of(job["id"])[0]
    assert final["done"] and final["rows_done"] == 300, "rows are counted once"
    assert store.job(job["id"])["status"] == "COMPLETED"
    assert target.db.orders.count_documents({}) == 300
    with_source = __import__("relmig.source.connect", fromlist=["open_source"]).open_source(
        pg_sample
    )
    try:
        assert verify(project, with_source, target).ok
    finally:
        with_source.close()


def test_resume_with_another_error_policy(
    sample_settings, source, target, store, make_project
) -> None:
    """A job stopped by a bad row under FAIL would stop on it again: resume may change the
    policy, from the CLI as from the API."""
    from relmig.runtime.jobs import JobError, JobManager

    project = _zoo_only(make_project(sample_settings))
    job_id = run_snapshot(project, target, store, on_error="FAIL")
    assert store.job(job_id)["status"] == "FAILED"
    with pytest.raises(JobError, match="FAIL, WARN or SKIP"):
        JobManager(store).resume(job_id, target.uri, on_error="IGNORE", foreground=True)

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "relmig.cli",
            "jobs",
            "resume",
            job_id,
            "--target",
            target.uri,
            "--on-error",
            "SKIP",
            "--max-errors",
            "50",
        ],
        env={**os.environ, "RELMIG_STATE_URL": store.url},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    job = store.job(job_id)
    assert job["status"] == "COMPLETED"
    assert (job["options"]["on_error"], job["options"]["max_errors"]) == ("SKIP", 50)
    assert verify(project, source, target).ok
