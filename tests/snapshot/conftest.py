"""Fixtures for the snapshot tests: the sample database in both sources, a fresh target each."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pymysql
import pytest

from relmig.mongo.writer import MongoTarget
from relmig.project.initial import initial_collections
from relmig.project.model import Project, SourceSettings
from relmig.runtime.store import StateStore
from relmig.samples.load import load_mysql, load_postgres
from relmig.schema.introspect import import_tables
from relmig.source.connect import open_source
from relmig.source.sql import SqlSource
from sharing import per_worker
from split_source import SplitSource, make_split_source

SAMPLE_DB = per_worker("relmig_t_sample")


@pytest.fixture(scope="session")
def pg_sample(services_settings) -> SourceSettings:
    s = services_settings
    admin = dict(
        host=s["RELMIG_HOST"],
        port=int(s["RELMIG_PG_PORT"]),
        user=s["RELMIG_PG_USER"],
        password=s["RELMIG_PG_PASSWORD"],
    )
    with psycopg.connect(**admin, dbname=s["RELMIG_PG_DB"], autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {SAMPLE_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {SAMPLE_DB}")
    dsn = " ".join(f"{k}={v}" for k, v in admin.items()) + f" dbname={SAMPLE_DB}"
    load_postgres(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ANALYZE")
    return SourceSettings(
        dialect="postgresql",
        host=s["RELMIG_HOST"],
        port=int(s["RELMIG_PG_PORT"]),
        database=SAMPLE_DB,
        user=s["RELMIG_PG_USER"],
        password_env="RELMIG_TEST_PG_PASSWORD",
        schemas=["public"],
    )


@pytest.fixture(scope="session")
def mysql_sample(services_settings) -> SourceSettings:
    s = services_settings
    load_mysql(
        s["RELMIG_HOST"],
        int(s["RELMIG_MYSQL_PORT"]),
        s["RELMIG_MYSQL_USER"],
        s["RELMIG_MYSQL_PASSWORD"],
        SAMPLE_DB,
    )
    conn = pymysql.connect(
        host=s["RELMIG_HOST"],
        port=int(s["RELMIG_MYSQL_PORT"]),
        user=s["RELMIG_MYSQL_USER"],
        password=s["RELMIG_MYSQL_PASSWORD"],
        database=SAMPLE_DB,
    )
    with conn.cursor() as cur:
        cur.execute("SHOW TABLES")
        for (table,) in cur.fetchall():
            cur.execute(f"ANALYZE TABLE `{table}`")
            cur.fetchall()
    conn.close()
    return SourceSettings(
        dialect="mysql",
        host=s["RELMIG_HOST"],
        port=int(s["RELMIG_MYSQL_PORT"]),
        database=SAMPLE_DB,
        user=s["RELMIG_MYSQL_USER"],
        password_env="RELMIG_TEST_MYSQL_PASSWORD",
        schemas=[SAMPLE_DB],
    )


@pytest.fixture(autouse=True)
def _source_passwords(monkeypatch: pytest.MonkeyPatch, services_settings) -> None:
    monkeypatch.setenv("RELMIG_TEST_PG_PASSWORD", services_settings["RELMIG_PG_PASSWORD"])
    monkeypatch.setenv("RELMIG_TEST_MYSQL_PASSWORD", services_settings["RELMIG_MYSQL_PASSWORD"])


@pytest.fixture(params=["postgresql", "mysql"])
def sample_settings(request: pytest.FixtureRequest) -> SourceSettings:
    name = "pg_sample" if request.param == "postgresql" else "mysql_sample"
    return request.getfixturevalue(name)


@pytest.fixture
def source(sample_settings: SourceSettings) -> Iterator[SqlSource]:
    src = open_source(sample_settings)
    yield src
    src.close()


def _make_project(
    settings: SourceSettings, mapping: str = "recommended", casing: str = "keep"
) -> Project:
    tables = import_tables(settings)
    return Project(
        name="t",
        source=settings,
        tables=tables,
        collections=initial_collections(tables, mapping, casing),  # type: ignore[arg-type]
    )


@pytest.fixture
def make_project() -> Callable[..., Project]:
    """Import the live schema into a project with the given initial mapping."""
    return _make_project


@pytest.fixture(scope="session")
def mongo_uri(any_target_uri: str) -> str:
    """Every snapshot and verify test runs on each target (FerretDB and mongo2)."""
    return any_target_uri


@pytest.fixture
def targets(mongo_uri: str) -> Iterator[Callable[[], MongoTarget]]:
    """Fresh target databases, as many as the test asks for, dropped at the end."""
    made: list[MongoTarget] = []

    def make() -> MongoTarget:
        made.append(MongoTarget(mongo_uri, f"t_{uuid.uuid4().hex[:10]}"))
        return made[-1]

    yield make
    for tgt in made:
        tgt.client.drop_database(tgt.db.name)
        tgt.close()


@pytest.fixture
def target(targets: Callable[[], MongoTarget]) -> MongoTarget:
    return targets()


@pytest.fixture(scope="module", params=["postgresql", "mysql"])
def split_source(request, services_settings) -> SplitSource:
    """A database made to be split into key ranges (tests/split_source.py), per module."""
    return make_split_source(request.param, services_settings)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    st = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield st
    st.close()
