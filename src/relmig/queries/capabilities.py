"""What a conversion needs to know of the two servers: how the source orders strings, and
which aggregation operators the target runs (FerretDB v1 lacks `$lookup`, `$cond`, `$max` …,
and in `$project` takes `"$field"` for a string instead of the field's value).

The target is asked, not recognised by name: each operator runs once in a one-document
pipeline over a collection of the project, read only.
"""

from __future__ import annotations

from typing import Any

from pymongo.errors import OperationFailure

from relmig.mongo.writer import MongoTarget
from relmig.queries.scope import Capabilities
from relmig.source.sql import SqlSource

_BINARY = ("c", "posix", "ucs_basic", "c.utf8", "c.utf-8", "binary")

# One stage per operator the converter writes; `$literal` and plain field paths are the base.
_PROBES: dict[str, dict[str, Any]] = {
    "$lookup": {
        "$lookup": {"from": "relmig_none", "localField": "a", "foreignField": "b", "as": "c"}
    },
    "$addFields": {"$addFields": {"x": 1}},
    "$expr": {"$match": {"$expr": {"$eq": ["$_id", "$_id"]}}},
    **{
        op: {"$group": {"_id": None, "x": {op: "$_id"}}}
        for op in ("$sum", "$avg", "$min", "$max", "$addToSet")
    },
    **{
        op: {"$project": {"x": {op: args}}}
        for op, args in {
            "$cond": [True, 1, 0],
            "$ifNull": [None, 1],
            "$eq": [1, 1],
            "$ne": [1, 1],
            "$add": [1, 1],
            "$subtract": [1, 1],
            "$multiply": [1, 1],
            "$divide": [1, 1],
            "$trunc": 1.5,
            "$round": [1.5, 0],
            "$size": [[1]],
            "$filter": {"input": [1], "cond": True},
        }.items()
    },
}


def binary_collation(name: str) -> bool:
    lowered = name.strip('"`').lower()
    return lowered in _BINARY or lowered.endswith("_bin")


def source_collation(source: SqlSource) -> str:
    """The database's default collation, which its string columns use unless they say other."""
    if source.settings.dialect == "postgresql":
        sql = "SELECT datcollate FROM pg_database WHERE datname = current_database()"
    else:
        sql = "SELECT @@collation_database"
    return str(source.fetch(sql)[0][0])


def capabilities(
    source: SqlSource, target: MongoTarget | None, collections: list[str]
) -> Capabilities:
    collation = source_collation(source)
    caps = Capabilities(binary_strings=binary_collation(collation), collation=collation)
    if target is None:
        return caps
    profile = target.profile
    caps.target = (
        f"FerretDB {profile.ferretdb_version}" if profile.ferretdb_version else "the target"
    )
    sample = next((c for c in collections if target.db[c].find_one({}, {"_id": 1})), None)
    if sample is None:
        return caps  # nothing to read: the conversion assumes MongoDB's aggregation
    coll = target.db[sample]
    caps.missing = {op: "lacks" for op, stage in _PROBES.items() if not _runs(coll, stage)}
    if not _unwind_keeps_fields(coll):
        caps.missing["$unwind"] = "runs wrongly (it keeps only _id and the unwound field)"
    if not _elem_match_matches(coll):
        caps.missing["$elemMatch"] = "runs wrongly (it matches no document)"
    computed = list(coll.aggregate([{"$limit": 1}, {"$project": {"_id": 0, "x": "$_id"}}]))
    caps.field_paths = bool(computed) and computed[0].get("x") != "$_id"
    return caps


def _unwind_keeps_fields(coll: Any) -> bool:
    """FerretDB v1's `$unwind` keeps only `_id` and the unwound field: silently other rows."""
    doc = coll.find_one({})
    stages = [{"$limit": 1}, {"$addFields": {"relmig_probe": [1]}}, {"$unwind": "$relmig_probe"}]
    try:
        unwound = list(coll.aggregate(stages))
    except OperationFailure:
        return False
    return bool(unwound) and set(unwound[0]) == {*doc, "relmig_probe"}


def _elem_match_matches(coll: Any) -> bool:
    """FerretDB v1's `$elemMatch` in an aggregation matches nothing, silently."""
    stages = [
        {"$limit": 1},
        {"$addFields": {"relmig_probe": [{"a": 1}]}},
        {"$match": {"relmig_probe": {"$elemMatch": {"a": 1}}}},
    ]
    try:
        return len(list(coll.aggregate(stages))) == 1
    except OperationFailure:
        return False


def _runs(coll: Any, stage: dict[str, Any]) -> bool:
    try:
        list(coll.aggregate([{"$limit": 1}, stage]))
    except OperationFailure:
        return False
    return True
