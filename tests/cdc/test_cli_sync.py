"""The CDC commands end to end in separate processes: import, check, sync, jobs complete."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from relmig.mongo.writer import MongoTarget

pytestmark = pytest.mark.services


def relmig(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relmig.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200", **env},
    )


def test_cdc_only_job_from_the_cli(pg_rig, services_settings, tmp_path: Path) -> None:
    rig = pg_rig
    s = services_settings
    env = {
        "RELMIG_STATE_URL": rig.store.url,
        "RELMIG_SOURCE_PASSWORD": s["RELMIG_PG_PASSWORD"],
    }
    url = (
        f"postgresql://{s['RELMIG_PG_USER']}@{s['RELMIG_HOST']}:{s['RELMIG_PG_PORT']}/"
        f"{rig.settings.database}"
    )
    project = tmp_path / "p.yaml"
    # orders has foreign keys to tables left out: they are dropped, not an error.
    out = relmig(
        "import",
        url,
        "--table",
        "public.orders",
        "--table",
        "public.order_details",
        "-o",
        str(project),
        env=env,
    )
    assert out.returncode == 0, out.stderr
    check = relmig("check", str(project), env=env)
    assert check.returncode == 0 and "all met" in check.stdout, check.stdout + check.stderr
    checked = json.loads(relmig("check", str(project), "--json", env=env).stdout)
    assert checked == {
        "ready": True,
        "missing": [],
        "unindexed_links": [],
        "cascades": [],  # PostgreSQL streams its cascades: none to follow
        "script": None,
    }

    sync = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "relmig.cli",
            "sync",
            str(project),
            "--mode",
            "cdc-only",
            "--target",
            rig.target_uri,
            "--database",
            rig.target_db,
        ],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    job_id = rig.wait_for_new_job()
    rig.streaming(job_id)
    rig.execute(
        [
            (
                "UPDATE orders SET freight = freight + 1 WHERE order_id IN "
                "(SELECT order_id FROM orders ORDER BY order_id LIMIT 7)",
                (),
            )
        ]
    )
    done = relmig("jobs", "complete", job_id, env=env)
    assert done.returncode == 0, done.stderr
    stdout, stderr = sync.communicate(timeout=120)
    assert sync.returncode == 0, stderr
    assert f"Job {job_id} COMPLETED" in stdout.replace("\n", " ")

    target = MongoTarget(rig.target_uri, rig.target_db)
    try:
        assert target.db["orders"].count_documents({}) == 7  # cdc-only: just what changed
    finally:
        target.close()
    shown = relmig("jobs", "show", job_id, env=env)
    assert "COMPLETED" in shown.stdout and "events 7" in shown.stdout, shown.stdout

    resumed = relmig("jobs", "resume", job_id, env=env)
    assert resumed.returncode == 2 and "cannot be resumed" in resumed.stderr
    assert "Traceback" not in resumed.stderr


def test_sync_drop_killed_after_the_snapshot_then_resumed_from_the_cli(rig, tmp_path: Path) -> None:
    """The reported defect, as a user meets it: `relmig sync --drop`, the process killed after
    the snapshot before any change was applied, `relmig jobs resume`, changes, `relmig verify`.
    The resume must not drop what the snapshot wrote."""
    import random
    import signal
    import time

    from relmig.failpoints import ARM, LOG
    from relmig.project.file import save_project

    project = tmp_path / "p.yaml"
    save_project(rig.project, project)
    env = {"RELMIG_STATE_URL": rig.store.url}
    target_args = ["--target", rig.target_uri, "--database", rig.target_db]
    crashed = relmig(
        "sync",
        str(project),
        "--drop",
        *target_args,
        env={**env, ARM: "cdc-stage-recorded", LOG: str(tmp_path / "crash.log")},
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    job_id = rig.wait_for_new_job()
    target = MongoTarget(rig.target_uri, rig.target_db)
    try:
        snapshot = {c.name: target.db[c.name].count_documents({}) for c in rig.project.collections}
        assert all(snapshot.values()), snapshot

        rig.manager.recover_stale()  # what any relmig process does when it opens the store
        assert rig.store.job(job_id)["status"] == "FAILED"
        resume = subprocess.Popen(  # a unique prefix of the id is enough
            [sys.executable, "-m", "relmig.cli", "jobs", "resume", job_id[:10]],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        claimed = time.monotonic() + 60
        while rig.store.job(job_id)["status"] == "FAILED" and time.monotonic() < claimed:
            time.sleep(0.05)  # until the resume process has taken the job over
        rig.streaming(job_id)
        assert {c: target.db[c].count_documents({}) for c in snapshot} == snapshot, (
            "the resume dropped the snapshot"
        )
        rig.workload(random.Random(10), 20)
        rig.caught_up(job_id)
        verified = relmig("verify", str(project), *target_args, env=env)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        done = relmig("jobs", "complete", job_id, env=env)
        assert done.returncode == 0, done.stderr
        stdout, stderr = resume.communicate(timeout=120)
        assert resume.returncode == 0, stderr
        assert f"Job {job_id} COMPLETED" in stdout.replace("\n", " ")
    finally:
        target.close()
