"""PostgreSQL as production runs it (issue 30): inheritance, partitions, generated columns,
unlogged tables, tables keyed by a unique index, against the real server.

The schema has a table with a legacy INHERITS child that has no key (mapped: the parent), a
table partitioned by range with a default partition and one partitioned by list (keys and
foreign keys declared per partition, as pagila does), and a table with a stored generated column
(and a virtual one on PostgreSQL 18, where a column is virtual unless it says STORED). Every test
runs on PostgreSQL 15 and 18 (dev/services up --pg18). While a continuous job runs, the
application's own UPDATEs and DELETEs on every table keep working, rows move between
partitions, a partition is attached, the generated columns change through their input, and the
target equals a fresh snapshot after each round.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import psycopg
import pytest

from cdc_rig import Rig, cleanup_rig, make_pg_rig
from relmig.project.model import CollectionRule, Project

pytestmark = pytest.mark.services

SCHEMA = """
CREATE TABLE base (id int PRIMARY KEY, name text);
CREATE TABLE child (extra text) INHERITS (base);
CREATE TABLE payment (payment_id int NOT NULL, paid date NOT NULL, amount numeric(8, 2))
    PARTITION BY RANGE (paid);
CREATE TABLE payment_2024 PARTITION OF payment FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE payment_2025 PARTITION OF payment FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE payment_other PARTITION OF payment DEFAULT;
ALTER TABLE payment_2024 ADD PRIMARY KEY (payment_id, paid);
ALTER TABLE payment_2025 ADD PRIMARY KEY (payment_id, paid);
ALTER TABLE payment_other ADD PRIMARY KEY (payment_id, paid);
ALTER TABLE payment ADD COLUMN store_id int, ADD COLUMN base_id int;
ALTER TABLE payment_2024 ADD FOREIGN KEY (base_id) REFERENCES base (id) ON DELETE SET NULL;
ALTER TABLE payment_2025 ADD FOREIGN KEY (base_id) REFERENCES base (id) ON DELETE SET NULL;
ALTER TABLE payment_other ADD FOREIGN KEY (base_id) REFERENCES base (id) ON DELETE SET NULL;
ALTER TABLE payment_2024 ADD FOREIGN KEY (store_id) REFERENCES base (id);
CREATE TABLE store (store_id int, region text, city text, PRIMARY KEY (store_id, region))
    PARTITION BY LIST (region);
CREATE TABLE store_eu PARTITION OF store FOR VALUES IN ('eu');
CREATE TABLE store_us PARTITION OF store FOR VALUES IN ('us');
CREATE TABLE film (film_id int PRIMARY KEY, length int,
    hours numeric GENERATED ALWAYS AS (round(length / 60.0, 2)) STORED);
CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY);
CREATE TABLE keyed (code text NOT NULL, v int, note text UNIQUE);
CREATE UNIQUE INDEX keyed_code ON keyed (code);
"""


# PostgreSQL 18's default kind of generated column: computed when read, never in the WAL.
VIRTUAL = "ALTER TABLE film ADD COLUMN half numeric GENERATED ALWAYS AS (length / 2.0) VIRTUAL"


def load(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SCHEMA)
        if conn.info.server_version >= 180000:
            conn.execute(VIRTUAL)
        for i in range(1, 21):
            conn.execute("INSERT INTO base VALUES (%s, %s)", (i, f"b{i}"))
            conn.execute("INSERT INTO child VALUES (%s, %s, 'x')", (100 + i, f"c{i}"))
            conn.execute(
                "INSERT INTO payment VALUES (%s, %s, %s)",
                (i, ["2024-03-01", "2025-03-01", "2030-01-01"][i % 3], i),
            )
            conn.execute(
                "INSERT INTO store VALUES (%s, %s, %s)", (i, ["eu", "us"][i % 2], f"city {i}")
            )
            conn.execute("INSERT INTO film (film_id, length) VALUES (%s, %s)", (i, 60 + i))
            conn.execute("INSERT INTO keyed VALUES (%s, %s)", (f"k{i}", i))


def collections(project: Project) -> list[CollectionRule]:
    return [
        CollectionRule(name=name, table=f"public.{name}")
        for name in ("base", "payment", "store", "film", "keyed")
    ]


@pytest.fixture(params=["RELMIG_PG_PORT", "RELMIG_PG18_PORT"], ids=["pg15", "pg18"])
def rig(request, services_settings, mongo_uri: str, tmp_path, monkeypatch) -> Iterator[Rig]:
    monkeypatch.setenv("RELMIG_TEST_PG_PASSWORD", services_settings["RELMIG_PG_PASSWORD"])
    server = {**services_settings, "RELMIG_PG_PORT": services_settings[request.param]}
    r = make_pg_rig(server, mongo_uri, tmp_path, load, collections)
    yield r
    cleanup_rig(r)


def writes(rng: random.Random, n: int) -> list[tuple[str, tuple]]:
    """The application's writes on every table, the unmapped child included."""
    i = rng.randint(1, 20)
    return [
        ("UPDATE base SET name = %s WHERE id = %s", (f"n{n}", i)),
        ("UPDATE child SET name = %s, extra = %s WHERE id = %s", (f"n{n}", "y", 100 + i)),
        ("DELETE FROM child WHERE id = %s", (100 + rng.randint(1, 20),)),
        ("INSERT INTO child VALUES (%s, 'new', 'z') ON CONFLICT DO NOTHING", (1000 + n,)),
        ("UPDATE payment SET amount = amount + 1 WHERE payment_id = %s", (i,)),
        # Across partitions: a range move, into the default partition and back.
        (
            "UPDATE payment SET paid = %s WHERE payment_id = %s",
            (rng.choice(["2024-06-01", "2025-06-01", "2031-01-01"]), rng.randint(1, 20)),
        ),
        ("DELETE FROM payment WHERE payment_id = %s", (rng.randint(1, 20),)),
        ("UPDATE store SET region = %s WHERE store_id = %s", (rng.choice(["eu", "us"]), i)),
        ("UPDATE store SET city = %s WHERE store_id = %s", (f"town {n}", rng.randint(1, 20))),
        ("UPDATE film SET length = %s WHERE film_id = %s", (rng.randint(30, 300), i)),
        ("DELETE FROM base WHERE id = %s", (rng.randint(1, 20),)),
        # Keyed by a unique index (no primary key): updates, a key change, deletes.
        ("UPDATE keyed SET v = v + 1 WHERE code = %s", (f"k{i}",)),
        ("UPDATE keyed SET code = %s WHERE code = %s", (f"k{i}-{n}", f"k{rng.randint(1, 20)}")),
        ("DELETE FROM keyed WHERE code = %s", (f"k{rng.randint(1, 20)}",)),
    ]


def test_the_sources_writes_keep_working_and_the_target_follows(rig: Rig) -> None:
    tables = {t.id: t for t in rig.project.tables}
    assert "public.payment_2024" not in tables  # a partition is part of its table
    assert tables["public.payment"].partitions == ["payment_2024", "payment_2025", "payment_other"]
    assert tables["public.payment"].primary_key == ["payment_id", "paid"]  # its partitions' key
    # The foreign key every partition declares is the table's; one that only one has is not.
    [fk] = tables["public.payment"].foreign_keys
    assert (fk.columns, fk.ref_table, fk.ref_columns, fk.on_delete) == (
        ["base_id"],
        "public.base",
        ["id"],
        "SET NULL",
    )
    assert tables["public.base"].inherited_by == ["child"]
    generated = [c.name for c in tables["public.film"].columns if c.generated]
    pg18 = int(rig.query("SHOW server_version_num")[0][0]) >= 180000
    assert generated == (["hours", "half"] if pg18 else ["hours"])
    assert tables["public.scratch"].unlogged
    # No primary key: the unique index over NOT NULL columns is the key (note may be NULL).
    assert (tables["public.keyed"].primary_key, tables["public.keyed"].key_index) == (
        ["code"],
        "keyed_code",
    )

    job_id = rig.start("continuous")
    rig.streaming(job_id)
    rig.verify()  # the snapshot copied base ONLY: the child's rows are not base's
    rng = random.Random(30)
    for n in range(12):
        # Each statement in a transaction of its own: any that fails fails the test.
        for statement in writes(rng, n):
            assert rig.execute([statement])
    rig.caught_up(job_id)
    rig.verify()
    job = rig.store.job(job_id)
    assert job["status"] == "RUNNING", job["failure"]


def test_an_unlogged_table_is_refused_for_cdc_with_the_reason(rig: Rig) -> None:
    project = rig.project.model_copy(
        update={"collections": [CollectionRule(name="scratch", table="public.scratch")]}
    )
    script = rig.manager.check(project) or ""
    assert "UNLOGGED" in script and "ALTER TABLE" in script and "SET LOGGED;" in script


def equal_within(rig: Rig, seconds: float) -> None:
    """A partition moved by DDL is seen by the stream's next poll (every few seconds)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            rig.verify()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_a_partition_attached_or_detached_during_cdc_is_followed(rig: Rig) -> None:
    """ATTACH and DETACH PARTITION move rows in and out without a change event: the stream
    finds the partitions that came and went and applies their rows, and a resumed job finds an
    attachment it had not applied yet."""
    job_id = rig.start("continuous")
    rig.streaming(job_id)
    filled_outside = [
        ("CREATE TABLE payment_2026 (LIKE payment INCLUDING DEFAULTS)", ()),
        ("ALTER TABLE payment_2026 ADD PRIMARY KEY (payment_id, paid)", ()),
        *[("INSERT INTO payment_2026 VALUES (%s, '2026-05-01', 7)", (500 + i,)) for i in range(8)],
    ]
    assert rig.execute(filled_outside)
    assert rig.execute(
        [
            (
                "ALTER TABLE payment ATTACH PARTITION payment_2026 "
                "FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
                (),
            )
        ]
    )
    equal_within(rig, 30)
    assert rig.execute([("UPDATE payment SET amount = 9 WHERE payment_id = 501", ())])
    rig.caught_up(job_id)
    rig.verify()  # the attached partition's rows now stream like the others

    assert rig.execute([("ALTER TABLE payment DETACH PARTITION payment_2025", ())])
    equal_within(rig, 30)  # its rows left the table: their documents are gone

    # While the job is paused, one partition comes and one of the project's goes: the
    # resumed stream finds both.
    rig.manager.pause(job_id)
    rig.manager.wait(job_id, 60)
    assert rig.execute(
        [
            ("CREATE TABLE payment_2027 (LIKE payment INCLUDING DEFAULTS)", ()),
            ("ALTER TABLE payment_2027 ADD PRIMARY KEY (payment_id, paid)", ()),
            ("INSERT INTO payment_2027 VALUES (700, '2027-02-01', 1), (701, '2027-03-01', 2)", ()),
            (
                "ALTER TABLE payment ATTACH PARTITION payment_2027 "
                "FOR VALUES FROM ('2027-01-01') TO ('2028-01-01')",
                (),
            ),
            ("ALTER TABLE payment DETACH PARTITION payment_2024", ()),
        ]
    )
    rig.manager.resume(job_id)
    rig.streaming(job_id)
    equal_within(rig, 30)
    assert rig.store.job(job_id)["status"] == "RUNNING"
