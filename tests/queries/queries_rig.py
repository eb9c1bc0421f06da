"""The sample database in both sources, imported with the recommended mapping (as `make demo`
does) and migrated once per module into a target, for the converter's proofs."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
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
from snapshot_jobs import run_snapshot

SAMPLE = per_worker("relmig_t_queries")
PASSWORDS = {"postgresql": "RELMIG_TEST_PG_PASSWORD", "mysql": "RELMIG_TEST_MYSQL_PASSWORD"}


@dataclass
class Migrated:
    project: Project
    source: SqlSource
    target: MongoTarget
    target_name: str  # ferretdb | mongo2


def _sample(dialect: str, s: dict[str, str]) -> SourceSettings:
    os.environ[PASSWORDS["postgresql"]] = s["RELMIG_PG_PASSWORD"]
    os.environ[PASSWORDS["mysql"]] = s["RELMIG_MYSQL_PASSWORD"]
    host = s["RELMIG_HOST"]
    if dialect == "postgresql":
        admin = f"host={host} port={s['RELMIG_PG_PORT']} user={s['RELMIG_PG_USER']} password={s['RELMIG_PG_PASSWORD']}"  # noqa: E501
        with psycopg.connect(f"{admin} dbname={s['RELMIG_PG_DB']}", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {SAMPLE} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {SAMPLE}")
        load_postgres(f"{admin} dbname={SAMPLE}")
        port, user, schema = int(s["RELMIG_PG_PORT"]), s["RELMIG_PG_USER"], "public"
    else:
        port, user, schema = int(s["RELMIG_MYSQL_PORT"]), s["RELMIG_MYSQL_USER"], SAMPLE
        load_mysql(host, port, user, s["RELMIG_MYSQL_PASSWORD"], SAMPLE)
    return SourceSettings(
        dialect=dialect,  # type: ignore[arg-type]
        host=host,
        port=port,
        database=SAMPLE,
        user=user,
        password_env=PASSWORDS[dialect],
        schemas=[schema],
    )


@pytest.fixture(scope="session")
def samples(services_settings: dict[str, str]) -> dict[str, SourceSettings]:
    return {d: _sample(d, services_settings) for d in ("postgresql", "mysql")}


def migrate(
    settings: SourceSettings,
    uri: str,
    target_name: str,
    tmp: Path,
    remodel: Callable[[Project], Project] = lambda p: p,
) -> Iterator[Migrated]:
    """The recommended mapping (`remodel` may change it) migrated by a snapshot job."""
    tables = import_tables(settings)
    project = remodel(
        Project(
            name="q",
            source=settings,
            tables=tables,
            collections=initial_collections(tables, "recommended", "camel"),
        )
    )
    target = MongoTarget(uri, f"q_{uuid.uuid4().hex[:10]}")
    store = StateStore(f"sqlite:///{tmp / 'state.db'}")
    source = open_source(settings)
    try:
        run_snapshot(project, target, store, on_error="WARN")  # type_zoo's edge rows
        yield Migrated(project, source, target, target_name)
    finally:
        source.close()
        store.close()
        target.client.drop_database(target.db.name)
        target.close()
