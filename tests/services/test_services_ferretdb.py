"""CRUD and an unordered bulk upsert round trip through FerretDB."""

from __future__ import annotations

import uuid

import pytest
from pymongo import MongoClient, ReplaceOne, UpdateOne

pytestmark = pytest.mark.services


@pytest.fixture
def mongo_db(mongo_uri):
    client = MongoClient(mongo_uri, serverSelectionTimeoutMS=10_000, timeoutMS=30_000)
    name = f"relmig_test_{uuid.uuid4().hex[:10]}"
    try:
        yield client[name]
    finally:
        client.drop_database(name)
        assert name not in client.list_database_names()
        client.close()


def test_crud_round_trip(mongo_db):
    coll = mongo_db["items"]
    assert coll.insert_many([{"_id": i, "v": f"v{i}", "n": i} for i in range(5)]).inserted_ids == [
        0,
        1,
        2,
        3,
        4,
    ]
    assert coll.count_documents({}) == 5
    assert coll.find_one({"_id": 3}) == {"_id": 3, "v": "v3", "n": 3}

    assert coll.update_one({"_id": 1}, {"$set": {"v": "changed"}}).modified_count == 1
    assert coll.find_one({"_id": 1})["v"] == "changed"
    assert coll.delete_one({"_id": 0}).deleted_count == 1
    assert sorted(d["_id"] for d in coll.find({}, {"_id": 1})) == [1, 2, 3, 4]


def test_unordered_bulk_upsert(mongo_db):
    coll = mongo_db["items"]
    coll.insert_many([{"_id": i, "v": f"v{i}", "n": i} for i in range(1, 4)])
    ops = [
        UpdateOne({"_id": 1}, {"$set": {"n": 100}}, upsert=True),  # matched, modified
        UpdateOne({"_id": 10}, {"$set": {"v": "new10"}}, upsert=True),  # inserted
        ReplaceOne({"_id": 2}, {"v": "replaced"}, upsert=True),  # matched, modified
        ReplaceOne({"_id": 11}, {"v": "new11", "n": 11}, upsert=True),  # inserted
        UpdateOne({"_id": 3}, {"$set": {"n": 3}}, upsert=True),  # matched, unchanged
    ]
    res = coll.bulk_write(ops, ordered=False)
    assert (res.matched_count, res.modified_count, res.upserted_count) == (3, 2, 2)
    # MongoDB gives {1: 10, 3: 11}. FerretDB v1 numbers the upserts 0, 1, ... instead of giving
    # their position in the batch, so code must not map upserted_ids back to operations.
    assert sorted(res.upserted_ids.values()) == [10, 11]
    assert coll.count_documents({}) == 5
    assert list(coll.find({}).sort("_id", 1)) == [
        {"_id": 1, "v": "v1", "n": 100},
        {"_id": 2, "v": "replaced"},
        {"_id": 3, "v": "v3", "n": 3},
        {"_id": 10, "v": "new10"},
        {"_id": 11, "v": "new11", "n": 11},
    ]

    # Replaying the same batch (at-least-once delivery) changes nothing and inserts nothing.
    before = list(coll.find({}).sort("_id", 1))
    again = coll.bulk_write(ops, ordered=False)
    assert (again.matched_count, again.upserted_count) == (5, 0)
    # MongoDB reports 0 modified. FerretDB v1 counts a replacement by an identical document as
    # a modification (an identical $set it counts as 0), so modified_count is no change signal.
    ferret = "ferretdbVersion" in mongo_db.client.admin.command("buildInfo")
    assert again.modified_count == (2 if ferret else 0)
    assert list(coll.find({}).sort("_id", 1)) == before
