"""The MongoDB path, on a target that takes it: Decimal128 decimals, ReplaceOne upserts, nested
arrays and dotted keys, checked on the stored documents after a snapshot and after CDC.

mongo2 (mongo-java-server) stores all of it, so relmig writes decimals as Decimal128 and
replaces documents with bulk ReplaceOne upserts; FerretDB v1 refuses it, so the same job
writes exact decimal strings, leaves the refused values out (WARN, with an Issue each) and
replaces by delete + insert. Which commands reach the server is watched with pymongo's
command monitoring, so the test fails if a path silently changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from bson import Decimal128
from pymongo import MongoClient, monitoring

from cdc_rig import Rig, cleanup_rig, make_pg_rig
from relmig.mongo.profile import TargetProfile
from relmig.project.model import CollectionRule, Project

pytestmark = pytest.mark.services

TABLE = """
CREATE TABLE items (id integer PRIMARY KEY, price numeric(12, 2), grid integer[], attrs jsonb)
"""
FIRST = (1, "12.50", "{{1,2},{3,4}}", '{"a.b": 1, "deep": [[5, 6]]}')
SECOND = (2, "0.10", "{{7}}", '{"x.y": {"z": [[8]]}}')


@pytest.fixture(scope="session")
def mongo_uri(any_target_uri: str) -> str:
    return any_target_uri


class Commands(monitoring.CommandListener):
    """The write commands the job sends to one database (pymongo's listeners are global for
    clients created after registration; this one only counts its own database)."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.seen: list[tuple[str, str]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.database_name == self.database and event.command_name in (
            "insert",
            "update",
            "delete",
        ):
            self.seen.append((event.command_name, event.command[event.command_name]))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def _load(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(TABLE)
        conn.execute("INSERT INTO items VALUES (%s, %s, %s, %s)", FIRST)


def _collections(project: Project) -> list[CollectionRule]:
    return [
        CollectionRule(name="items", table="public.items"),
        # ObjectId documents are replaced by their key field, not by _id.
        CollectionRule(name="items_oid", table="public.items", id="objectid"),
    ]


@pytest.fixture
def rig(services_settings, mongo_uri: str, tmp_path, monkeypatch) -> Iterator[Rig]:
    monkeypatch.setenv("RELMIG_TEST_PG_PASSWORD", services_settings["RELMIG_PG_PASSWORD"])
    r = make_pg_rig(services_settings, mongo_uri, tmp_path, _load, _collections)
    yield r
    cleanup_rig(r)


def _stored(rig: Rig) -> dict[str, dict[int, dict[str, Any]]]:
    """Both collections' documents by source key; the ObjectIds under "oids"."""
    client: MongoClient = MongoClient(rig.target_uri)
    try:
        db = client[rig.target_db]
        oid_docs = list(db.items_oid.find())
        oids = {d["id"]: d.pop("_id") for d in oid_docs}
        return {
            "items": {d.pop("_id"): d for d in db.items.find()},
            "items_oid": {d.pop("id"): d for d in oid_docs},
            "oids": oids,
        }
    finally:
        client.close()


def test_decimals_nested_arrays_dotted_keys_and_replaces(rig: Rig) -> None:
    client: MongoClient = MongoClient(rig.target_uri)
    profile = TargetProfile.probe(client[rig.target_db])
    client.close()
    commands = Commands(rig.target_db)
    monitoring.register(commands)
    try:
        job_id = rig.start("continuous", on_error="WARN")
        rig.streaming(job_id)
        rig.verify()
        snapshot = _stored(rig)
        oid = snapshot.pop("oids")[1]
        commands.seen.clear()
        rig.execute(
            [
                (
                    "UPDATE items SET price = 99.99, grid = '{{9,8},{7,6}}', "
                    """attrs = '{"a.b": 2, "deep": [[]]}' WHERE id = 1""",
                    (),
                ),
                ("INSERT INTO items VALUES (%s, %s, %s, %s)", SECOND),
            ]
        )
        rig.caught_up(job_id)
        rig.verify()
        after = _stored(rig)
        assert after.pop("oids")[1] == oid  # a replaced document keeps its ObjectId
        writes = list(commands.seen)
    finally:
        commands.database = ""  # stays registered, but counts nothing more

    if not profile.replace_by_delete:
        # The MongoDB path: everything stored as it is (both collections, keyed by id),
        # replaced in place.
        assert profile.decimal128 and profile.nested_arrays and profile.dotted_keys
        first = {"price": Decimal128("12.50"), "grid": [[1, 2], [3, 4]]}
        first["attrs"] = {"a.b": 1, "deep": [[5, 6]]}
        assert snapshot == {"items": {1: first}, "items_oid": {1: first}}
        updated = {
            1: {
                "price": Decimal128("99.99"),
                "grid": [[9, 8], [7, 6]],
                "attrs": {"a.b": 2, "deep": [[]]},
            },
            2: {"price": Decimal128("0.10"), "grid": [[7]], "attrs": {"x.y": {"z": [[8]]}}},
        }
        assert after == {"items": updated, "items_oid": updated}
        # CDC wrote with bulk ReplaceOne upserts (update commands) and deleted nothing.
        assert {name for name, _ in writes} == {"update"}
        assert {coll for _, coll in writes} == {"items", "items_oid"}
        assert not rig.store.issues_of(job_id)
    else:
        # FerretDB v1: exact decimal strings; refused values left out with an Issue each;
        # replaced by delete + insert.
        assert snapshot["items"][1]["price"] == "12.50"
        assert after["items"][1]["price"] == "99.99"
        assert after["items"][2]["price"] == "0.10"
        for doc in after["items"].values():
            assert "attrs" not in doc
            assert all(cell is None for cell in doc["grid"])
        assert {name for name, _ in writes} == {"delete", "insert"}
        fields = {issue["field"] for issue in rig.store.issues_of(job_id)}
        assert {"attrs", "grid.0"} <= fields
