"""PostgreSQL with the least privilege (issue 29 §1): a role with REPLICATION and SELECT only,
owning nothing, and a publication the DBA created. `relmig check` passes without asking for
ownership, a continuous job streams through the DBA's publication until the target equals a
fresh snapshot, and cancelling it drops its slot but never the DBA's publication."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator

import psycopg
import pymysql
import pytest

from cdc_rig import Rig, cleanup_rig, make_rig
from relmig.source.pg_capture import slot_name

pytestmark = pytest.mark.services

PASSWORD_ENV = "RELMIG_TEST_READER_PASSWORD"


@pytest.fixture
def rig(services_settings, mongo_uri, tmp_path, monkeypatch) -> Iterator[Rig]:
    monkeypatch.setenv("RELMIG_TEST_PG_PASSWORD", services_settings["RELMIG_PG_PASSWORD"])
    r = make_rig("postgresql", services_settings, mongo_uri, tmp_path)
    yield r
    cleanup_rig(r)


@pytest.fixture
def reader(rig: Rig, pg_admin_dsn: str, monkeypatch) -> Iterator[str]:
    """A role that may replicate and read the sample's tables, and owns nothing."""
    role = f"relmig_reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN REPLICATION PASSWORD 'reader-pw'")
    with psycopg.connect(pg_admin_dsn.rsplit("/", 1)[0] + f"/{rig.settings.database}") as conn:
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    monkeypatch.setenv(PASSWORD_ENV, "reader-pw")
    yield role
    with psycopg.connect(pg_admin_dsn.rsplit("/", 1)[0] + f"/{rig.settings.database}") as conn:
        conn.execute(f"DROP OWNED BY {role}")
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {role}")


def test_a_reader_role_and_the_dbas_publication_are_enough(rig: Rig, reader: str) -> None:
    as_reader = rig.project.model_copy(
        update={
            "source": rig.project.source.model_copy(
                update={"user": reader, "password_env": PASSWORD_ENV}
            )
        }
    )
    # Without a publication of the DBA's, check says how to make one, never to hand over tables.
    script = rig.manager.check(as_reader) or ""
    assert "CREATE PUBLICATION relmig FOR TABLE" in script
    assert "publication: relmig under source:" in script
    assert "OWNER" not in script

    # The DBA creates it for all but one mapped table: check names the one left out.
    published = sorted(f'"{t.name}"' for t in as_reader.tables if t.name != "categories")
    rig.execute([(f"CREATE PUBLICATION dba_pub FOR TABLE {', '.join(published)}", ())])
    named = as_reader.model_copy(
        update={"source": as_reader.source.model_copy(update={"publication": "dba_pub"})}
    )
    script = rig.manager.check(named) or ""
    (line,) = [x for x in script.splitlines() if x.startswith("ALTER PUBLICATION")]
    assert line.startswith("ALTER PUBLICATION") and "categories" in line, script
    assert line.count(",") == 0  # that table alone
    rig.execute([("ALTER PUBLICATION dba_pub ADD TABLE categories", ())])
    assert rig.manager.check(named) is None

    rig.project = named
    job_id = rig.start("continuous")
    rig.streaming(job_id)
    rig.workload(random.Random(29), 15)
    rig.caught_up(job_id)
    rig.verify()
    rig.manager.cancel(job_id)
    rig.manager.wait(job_id, 60)
    assert rig.store.job(job_id)["status"] == "CANCELLED"
    slots = rig.query(
        f"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot_name(job_id)}'"
    )
    pubs = rig.query("SELECT pubname FROM pg_publication")
    assert slots == [(0,)] and pubs == [("dba_pub",)]


def as_role(project, role: str, publication: str | None = None):
    source = project.source.model_copy(
        update={"user": role, "password_env": PASSWORD_ENV, "publication": publication}
    )
    return project.model_copy(update={"source": source})


def failure_of(rig: Rig, job_id: str) -> str:
    """The job's failure, which came at once: retried as a lost link, the job would have
    waited 1, 2, 4, … 32 s between attempts (about two minutes) before failing."""
    rig.manager.wait(job_id, 20)
    job = rig.store.job(job_id)
    assert job["status"] == "FAILED", job
    return str(job["failure"])


def test_a_privilege_the_job_lacks_is_named_with_its_grant(rig: Rig, reader: str) -> None:
    """Issue 30 §5: a job is never the first to find a missing privilege without saying which
    and how to grant it; a snapshot job is told only what reading needs."""
    owner = rig.project  # the rig's cleanup drops the job's slot as the owner
    try:
        named_with_its_grant(rig, reader)
    finally:
        rig.project = owner


def named_with_its_grant(rig: Rig, reader: str) -> None:
    rig.execute([(f"REVOKE SELECT ON categories FROM {reader}", ())])
    rig.project = as_role(rig.project, reader)
    failure = failure_of(rig, rig.start("snapshot"))
    assert "permission denied for table categories" in failure, failure
    assert f'GRANT SELECT ON "public"."categories" TO "{reader}";' in failure, failure
    assert "PUBLICATION" not in failure  # a snapshot job needs none

    # Granted again, a continuous job starts; the privilege is revoked under it and a change
    # makes it read the table: it fails at once with the GRANT, never retried as a lost link.
    rig.execute([(f"GRANT SELECT ON categories TO {reader}", ())])
    published = ", ".join(sorted(f'"{t.name}"' for t in rig.project.tables))
    rig.execute([(f"CREATE PUBLICATION dba_pub FOR TABLE {published}", ())])
    rig.project = as_role(rig.project, reader, "dba_pub")
    job_id = rig.start("continuous")
    rig.streaming(job_id)
    rig.execute(
        [
            (f"REVOKE SELECT ON categories FROM {reader}", ()),
            ("UPDATE categories SET description = 'revoked' WHERE category_id = 1", ()),
        ]
    )
    failure = failure_of(rig, job_id)
    assert f'GRANT SELECT ON "public"."categories" TO "{reader}";' in failure, failure


@pytest.fixture
def mysql_rig(services_settings, mongo_uri, tmp_path, monkeypatch) -> Iterator[Rig]:
    monkeypatch.setenv("RELMIG_TEST_MYSQL_PASSWORD", services_settings["RELMIG_MYSQL_PASSWORD"])
    r = make_rig("mysql", services_settings, mongo_uri, tmp_path, scale=0.2)
    yield r
    cleanup_rig(r)


def test_a_mariadb_account_without_select_is_told_its_grant(
    mysql_rig: Rig, services_dir, monkeypatch
) -> None:
    rig = mysql_rig
    account = f"relmig_t_{uuid.uuid4().hex[:8]}"
    database = rig.settings.database
    # Root over the socket: the dev account has no GRANT OPTION.
    root = pymysql.connect(
        unix_socket=str(services_dir / "run" / "mariadb.sock"), user="root", autocommit=True
    )
    with root.cursor() as cur:
        cur.execute(f"CREATE USER '{account}'@'127.0.0.1' IDENTIFIED BY 'reader-pw'")
        # It may read one table of the database (so it connects), not the others.
        cur.execute(f"GRANT SELECT ON `{database}`.`categories` TO '{account}'@'127.0.0.1'")
    monkeypatch.setenv(PASSWORD_ENV, "reader-pw")
    owner = rig.project
    try:
        rig.project = as_role(rig.project, account)
        failure = failure_of(rig, rig.start("snapshot"))
    finally:
        rig.project = owner
        with root.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{account}'@'127.0.0.1'")
        root.close()
    assert "command denied" in failure, failure
    grant = f"GRANT SELECT ON `{database}`.* TO '{account}'@'127.0.0.1';"
    assert grant in failure, failure
    assert "REPLICATION" not in failure  # a snapshot job reads the tables only
