"""What the target server can store, so bad values become per-row errors, not failed batches.

A bulk write that contains one document the server refuses fails (or half-fails) the
whole batch, and the server's message rarely names the field. Screening each built
document first lets the job's error policy handle exactly that row, with the field path.

What the server stores is found by asking it, not by its name: `TargetProfile.probe` writes
one document per capability (Decimal128, non-finite doubles, NUL in strings, nested arrays,
dotted and `$`-prefixed field names) to a scratch collection and reads it back, and runs a
bulk of `ReplaceOne` upserts there; what comes back unchanged is what the server can store.
The name (`buildInfo`) decides one thing only, which no safe probe can show: FerretDB v1
wedges on larger bulks of replaces of existing documents (a bulk of 150 wedged it for good),
so there a replace is a delete and an insert.
"""

from __future__ import annotations

import contextlib
import datetime
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import bson
from bson.binary import Binary
from bson.datetime_ms import DatetimeMS
from bson.decimal128 import Decimal128
from bson.int64 import Int64
from bson.objectid import ObjectId
from pymongo import DeleteMany, ReplaceOne
from pymongo.database import Database
from pymongo.errors import PyMongoError

__all__ = ["TargetProfile", "drop_path"]

_DOLLAR_TOP = "field names starting with '$' are update operators to a replace/upsert"
_NAN_DOUBLE = "the target cannot store NaN or ±Infinity doubles"
_DECIMAL = (
    "the target cannot store Decimal128 values (map the field to string or double for this target)"
)
_NUL_STRING = "the target cannot store NUL characters in strings"
_NESTED_ARRAY = "the target cannot store an array directly inside an array"
_DOT_KEY = "the target rejects field names containing '.'"
_DOLLAR_KEY = "the target rejects field names starting with '$'"

# One document per capability, written and read back; the field name is the capability's.
_PROBES: dict[str, dict[str, Any]] = {
    "decimal128": {"v": [Decimal128("1.10"), Decimal128("-12345678901234567890.1234567890")]},
    "non_finite_doubles": {"v": [float("nan"), float("inf"), float("-inf")]},
    "nul_strings": {"v": "a\x00b"},
    "nested_arrays": {"v": [[1, 2], [{"a": [[3]]}]]},
    "dotted_keys": {"v": {"a.b": 1}},
    "dollar_keys": {"v": {"$x": 1}},
}


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


@dataclass(frozen=True)
class _Rules:
    """The reason each kind of value is refused, or None where the target stores it."""

    decimal: str | None
    nan: str | None
    nul: str | None
    nested: str | None
    dot: str | None
    dollar: str | None

    @property
    def none(self) -> bool:
        return not (self.decimal or self.nan or self.nul or self.nested or self.dot or self.dollar)


@dataclass(frozen=True)
class TargetProfile:
    """What the target stores (each flag probed on the server) and how it replaces.

    ``version`` is the MongoDB-compatible version the server reports; ``ferretdb_version``
    is FerretDB's own (``"v1.24.2"``) when the server is FerretDB.
    """

    version: str = ""
    ferretdb_version: str = ""
    decimal128: bool = True
    non_finite_doubles: bool = True
    nul_strings: bool = True
    nested_arrays: bool = True
    dotted_keys: bool = True
    dollar_keys: bool = True
    bulk_replace: bool = True
    _rules: _Rules = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rules = _Rules(
            decimal=None if self.decimal128 else _DECIMAL,
            nan=None if self.non_finite_doubles else _NAN_DOUBLE,
            nul=None if self.nul_strings else _NUL_STRING,
            nested=None if self.nested_arrays else _NESTED_ARRAY,
            dot=None if self.dotted_keys else _DOT_KEY,
            dollar=None if self.dollar_keys else _DOLLAR_KEY,
        )
        object.__setattr__(self, "_rules", rules)

    @classmethod
    def probe(cls, db: Database[Any]) -> TargetProfile:
        """Probe the server behind ``db`` in a scratch collection of it (dropped after).

        The answer is kept per server and version for the life of the process, since every
        job, verify and writer opens a target, and a probe costs a few round trips (on
        FerretDB v1 two of them drop the connection).
        """
        info = db.client.admin.command("buildInfo")
        version = str(info.get("version") or "")
        ferretdb_version = str(info.get("ferretdbVersion") or "")
        key = (frozenset(db.client.nodes), version, ferretdb_version, info.get("gitVersion"))
        with _cache_lock:
            known = _probed.get(key)
        if known is not None:
            return known
        scratch = db[f"relmig_probe_{uuid.uuid4().hex[:12]}"]
        try:
            stored = {name: _round_trips(scratch, name, doc) for name, doc in _PROBES.items()}
            profile = cls(
                version=version,
                ferretdb_version=ferretdb_version,
                bulk_replace=_bulk_replace_works(scratch),
                **stored,
            )
        finally:
            with contextlib.suppress(PyMongoError):  # one left behind is harmless
                scratch.drop()
        with _cache_lock:
            _probed[key] = profile
        return profile

    @property
    def ferretdb(self) -> bool:
        return bool(self.ferretdb_version)

    @property
    def ferretdb_v1(self) -> bool:
        """FerretDB before 2 (on SQLite or PostgreSQL; FerretDB 2 runs on DocumentDB)."""
        major = self.ferretdb_version.lstrip("vV").split(".", 1)[0]
        return self.ferretdb and (not major.isdigit() or int(major) < 2)

    @property
    def replace_by_delete(self) -> bool:
        """Replace as delete + insert: bulk replaces failed the probe, or would wedge the
        server under load (FerretDB v1, see the module docstring)."""
        return not self.bulk_replace or self.ferretdb_v1

    def problems(self, doc: Mapping[str, Any]) -> list[tuple[str, str]]:
        """``(dotted path, reason)`` for every value this target would refuse; ``[]`` if none.

        Array positions appear as numbers in the path. For a field name the server
        refuses, the path is that of the field when the name has no ``.`` (so it stays
        a valid path); otherwise it is the path of the sub-document holding it.
        On a target that stores every probed kind of value only the top level is looked
        at, so the call stays cheap.
        """
        out: list[tuple[str, str]] = []
        rules = self._rules
        if not rules.none:
            try:
                _walk_document(doc, "", out, rules)
            except TypeError:  # a non-string field name; pymongo refuses it anyway
                return [("", "a field name is not a string")]
            except RecursionError:
                return [("", "the document is nested too deeply")]
        if rules.dollar is None:  # else the walk reported them
            for key in doc:
                if type(key) is str and key[:1] == "$":
                    out.append((key, _DOLLAR_TOP))
        _id = doc.get("_id")
        if type(_id) is list or type(_id) is tuple:
            out.append(("_id", "_id cannot be an array"))
        return out


_probed: dict[tuple[Any, ...], TargetProfile] = {}
_cache_lock = threading.Lock()


def _round_trips(coll: Any, name: str, doc: dict[str, Any]) -> bool:
    """True if the server stores doc and returns it byte for byte (decimals keep their
    exponent, NaN stays NaN); a refusal or a dropped connection is False."""
    try:
        coll.insert_one({"_id": name, **doc})
        back = coll.find_one({"_id": name})
    except PyMongoError:
        return False
    return back is not None and bson.encode({**back, "_id": name}) == bson.encode(
        {"_id": name, **doc}
    )


def _bulk_replace_works(coll: Any) -> bool:
    """One unordered bulk as the writer sends it: ReplaceOne upserts by _id and by a key
    field (ObjectId documents), existing and new, with a DeleteMany of gone roots."""
    try:
        coll.insert_many([{"_id": "r1", "v": 0}, {"_id": "r2", "v": 0}, {"k": "r4", "v": 0}])
        result = coll.bulk_write(
            [
                ReplaceOne({"_id": "r1"}, {"v": 1}, upsert=True),
                ReplaceOne({"_id": "r3"}, {"v": 1}, upsert=True),
                ReplaceOne({"k": "r4"}, {"k": "r4", "v": 1}, upsert=True),
                DeleteMany({"_id": {"$in": ["r2"]}}),
            ],
            ordered=False,
        )
        stored = {
            doc.get("k", doc["_id"]): doc["v"]
            for doc in coll.find({"$or": [{"_id": {"$in": ["r1", "r2", "r3"]}}, {"k": "r4"}]})
        }
    except PyMongoError:
        return False
    counts = (result.matched_count, result.upserted_count, result.deleted_count)
    return counts == (2, 1, 1) and stored == {"r1": 1, "r3": 1, "r4": 1}


def _bad_key(key: str, prefix: str, out: list[tuple[str, str]], rules: _Rules) -> bool:
    """Record a refused field name (the caller saw '.' or '$' in it); True if recorded."""
    if "." in key and rules.dot:
        out.append((prefix or key, f"{rules.dot}: {key!r}"))
        return True
    if key[:1] == "$" and rules.dollar:
        out.append((_join(prefix, key), f"{rules.dollar}: {key!r}"))
        return True
    return False  # '$' elsewhere in the name is fine


def _scalar_problem(t: type, value: Any, rules: _Rules) -> str | None:
    """The reason a non-container, non-string value is refused, if it is."""
    if t is float:
        # x - x is 0.0 for every finite x and NaN for NaN and ±Infinity.
        return None if value - value == 0.0 else rules.nan
    if t is Decimal128:
        return rules.decimal
    return None


# Types that are always stored as they are; skipped with one set lookup.
_SAFE: frozenset[type] = frozenset(
    {int, bool, type(None), Int64, datetime.datetime, bytes, Binary, ObjectId, DatetimeMS}
)


def _walk_document(
    doc: Mapping[str, Any], prefix: str, out: list[tuple[str, str]], rules: _Rules
) -> None:
    # Hot path: one call per sub-document; strings (the commonest value) are checked inline.
    for key, value in doc.items():
        if ("." in key or "$" in key) and _bad_key(key, prefix, out, rules):
            continue
        t = type(value)
        if t is str:
            if rules.nul and "\x00" in value:
                out.append((_join(prefix, key), rules.nul))
        elif t in _SAFE:
            continue
        elif t is dict:
            _walk_document(value, _join(prefix, key), out, rules)
        elif t is list or t is tuple:
            _walk_array(value, _join(prefix, key), out, rules)
        elif isinstance(value, Mapping):
            _walk_document(value, _join(prefix, key), out, rules)
        else:
            reason = _scalar_problem(t, value, rules)
            if reason is not None:
                out.append((_join(prefix, key), reason))


def _walk_array(
    items: list[Any] | tuple[Any, ...], path: str, out: list[tuple[str, str]], rules: _Rules
) -> None:
    for index, value in enumerate(items):
        t = type(value)
        if t is str:
            if rules.nul and "\x00" in value:
                out.append((f"{path}.{index}", rules.nul))
        elif t in _SAFE:
            continue
        elif t is dict:
            _walk_document(value, f"{path}.{index}", out, rules)
        elif t is list or t is tuple:
            if rules.nested:
                out.append((f"{path}.{index}", rules.nested))
            else:
                _walk_array(value, f"{path}.{index}", out, rules)
        elif isinstance(value, Mapping):
            _walk_document(value, f"{path}.{index}", out, rules)
        else:
            reason = _scalar_problem(t, value, rules)
            if reason is not None:
                out.append((f"{path}.{index}", reason))


def drop_path(doc: Any, path: str) -> None:
    """Remove a path `problems()` reported: the key from its document, or null in an array."""
    node = doc
    parts = path.split(".")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, dict):
            if part not in node:
                return
            if last:
                del node[part]
                return
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            if last:
                node[int(part)] = None
                return
            node = node[int(part)]
        else:
            return
