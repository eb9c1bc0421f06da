"""MariaDB's generated columns through CDC (issue 30): VIRTUAL and PERSISTENT columns, at the
root and in an embedded array, marked at import and right in the target after updates of their
inputs (the binlog's row images carry them; documents read them from the source anyway).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pymysql
import pytest

from cdc_rig import Rig, cleanup_rig, fk, make_mysql_rig
from relmig.project.model import CollectionRule, EmbedRule, Project

pytestmark = [
    pytest.mark.services,
    pytest.mark.filterwarnings("ignore:'db' is deprecated:DeprecationWarning"),
]

TABLES = [
    "CREATE TABLE film (film_id INT PRIMARY KEY, length INT NOT NULL, "
    "hours DECIMAL(6, 2) AS (ROUND(length / 60, 2)) PERSISTENT, "
    "half DECIMAL(8, 1) AS (length / 2) VIRTUAL)",
    "CREATE TABLE showing (id INT PRIMARY KEY, film_id INT NOT NULL, minutes INT NOT NULL, "
    "late BOOLEAN AS (minutes > 120) VIRTUAL, "
    "FOREIGN KEY (film_id) REFERENCES film (film_id) ON DELETE CASCADE)",
]


def load(conn: pymysql.connections.Connection) -> None:
    with conn.cursor() as cur:
        for ddl in TABLES:
            cur.execute(ddl)
        for i in range(1, 11):
            cur.execute("INSERT INTO film (film_id, length) VALUES (%s, %s)", (i, 60 + 7 * i))
            cur.execute(
                "INSERT INTO showing (id, film_id, minutes) VALUES (%s, %s, %s)",
                (i, i, 100 + 3 * i),
            )


def collections(p: Project) -> list[CollectionRule]:
    t = lambda name: f"{p.source.database}.{name}"  # noqa: E731 - a table id in the schema
    showings = EmbedRule(
        kind="array",
        table=t("showing"),
        foreign_key=fk(p, t("showing"), ["film_id"]),
        field="showings",
    )
    return [CollectionRule(name="film", table=t("film"), embeds=[showings])]


@pytest.fixture
def rig(services_settings, mongo_uri: str, tmp_path) -> Iterator[Rig]:
    r = make_mysql_rig(services_settings, mongo_uri, tmp_path, load, collections)
    yield r
    cleanup_rig(r)


def test_virtual_and_persistent_columns_follow_their_inputs(rig: Rig) -> None:
    tables = {t.name: t for t in rig.project.tables}
    assert [c.name for c in tables["film"].columns if c.generated] == ["hours", "half"]
    assert [c.name for c in tables["showing"].columns if c.generated] == ["late"]

    job_id = rig.start("continuous")
    rig.streaming(job_id)
    rig.verify()
    rng = random.Random(30)
    for n in range(10):
        i = rng.randint(1, 10)
        assert rig.execute(
            [
                ("UPDATE film SET length = %s WHERE film_id = %s", (rng.randint(30, 300), i)),
                ("UPDATE showing SET minutes = %s WHERE id = %s", (rng.randint(60, 200), i)),
                (
                    "INSERT INTO showing (id, film_id, minutes) VALUES (%s, %s, %s)",
                    (100 + n, i, 90 + n * 5),
                ),
            ]
        )
    assert rig.execute([("DELETE FROM showing WHERE id = %s", (rng.randint(1, 10),))])
    rig.caught_up(job_id)
    rig.verify()
    job = rig.store.job(job_id)
    assert job["status"] == "RUNNING", job["failure"]
