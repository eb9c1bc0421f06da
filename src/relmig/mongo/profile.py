"""What the target server can store, so bad values become per-row errors, not failed batches.

A bulk write that contains one document the server refuses fails (or half-fails) the
whole batch, and the server's message rarely names the field. Screening each built
document first lets the job's error policy handle exactly that row, with the field path.

Detection is server-neutral: ``buildInfo`` is read once, and only FerretDB announces
itself there (``ferretdbVersion``). Real MongoDB gets only the universal rules.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bson.binary import Binary
from bson.datetime_ms import DatetimeMS
from bson.decimal128 import Decimal128
from bson.int64 import Int64
from bson.objectid import ObjectId

__all__ = ["TargetProfile", "drop_path"]

_DOLLAR_TOP = "field names starting with '$' are update operators to a replace/upsert"

# FerretDB v1, as measured against v1.24.2 by tests/types/test_type_fidelity.py (its
# documented list, docs.ferretdb.io/v1.24/diff, omits Decimal128). NaN and Decimal128 are
# refused while the wire message is parsed: the server drops the connection, so the
# client sees AutoReconnect for the whole batch, not a per-document write error.
_NAN_DOUBLE = "FerretDB v1 cannot store NaN or ±Infinity doubles"
_DECIMAL = (
    "FerretDB v1 cannot store Decimal128 values (map the field to string or double for this target)"
)
# The PostgreSQL backend refuses NUL (jsonb cannot hold U+0000); the SQLite backend
# stores it. The backend is not visible to clients, so this rule is conservative.
_NUL_STRING = "FerretDB v1 cannot store NUL characters in strings (PostgreSQL backend)"
_NESTED_ARRAY = "FerretDB v1 cannot store an array directly inside an array"
_DOT_KEY = "FerretDB v1 rejects field names containing '.'"
_DOLLAR_KEY = "FerretDB v1 rejects field names starting with '$'"


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


@dataclass(slots=True)
class TargetProfile:
    """Server identity and the document rules that follow from it.

    ``version`` is the MongoDB-compatible version the server reports; for FerretDB,
    ``ferretdb_version`` is its own (``"v1.24.2"``). The FerretDB v1 rules apply to any
    FerretDB whose major version is 1 (or unknown); FerretDB 2 (on DocumentDB) lifted
    them.
    """

    ferretdb: bool = False
    version: str = ""
    ferretdb_version: str = ""
    # Decided once: `problems()` asks for every document it screens.
    _v1: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        major = self.ferretdb_version.lstrip("vV").split(".", 1)[0]
        self._v1 = self.ferretdb and (not major.isdigit() or int(major) < 2)

    @classmethod
    def from_client(cls, client: Any) -> TargetProfile:
        """Read ``buildInfo`` once (a ``pymongo.MongoClient``; any server)."""
        info = client.admin.command("buildInfo")
        ferretdb_version = str(info.get("ferretdbVersion") or "")
        return cls(
            ferretdb=bool(ferretdb_version) or "ferretdbFeatures" in info,
            version=str(info.get("version") or ""),
            ferretdb_version=ferretdb_version,
        )

    @property
    def ferretdb_v1(self) -> bool:
        """True when FerretDB v1's storage restrictions apply."""
        return self._v1

    @property
    def decimal128(self) -> bool:
        """FerretDB v1 drops the connection on any Decimal128 value (seen on v1.24.2)."""
        return not self.ferretdb_v1

    @property
    def replace_by_delete(self) -> bool:
        """FerretDB v1 stalls on bulk replaces of existing documents (seen on v1.24.2)."""
        return self.ferretdb_v1

    def problems(self, doc: Mapping[str, Any]) -> list[tuple[str, str]]:
        """``(dotted path, reason)`` for every value this target would refuse; ``[]`` if none.

        Array positions appear as numbers in the path. For a field name the server
        refuses, the path is that of the field when the name has no ``.`` (so it stays
        a valid path); otherwise it is the path of the sub-document holding it.
        On real MongoDB only the top level is looked at, so the call stays cheap.
        """
        out: list[tuple[str, str]] = []
        if self._v1:
            try:
                _walk_document(doc, "", out)
            except TypeError:  # a non-string field name; pymongo refuses it anyway
                return [("", "a field name is not a string")]
            except RecursionError:
                return [("", "the document is nested too deeply")]
            _id = doc.get("_id")
            if type(_id) is list or type(_id) is tuple:
                out.append(("_id", "_id cannot be an array"))
            return out
        for key in doc:
            if type(key) is str and key[:1] == "$":
                out.append((key, _DOLLAR_TOP))
        _id = doc.get("_id")
        if type(_id) is list or type(_id) is tuple:
            out.append(("_id", "_id cannot be an array"))
        return out


def _bad_key(key: str, prefix: str, out: list[tuple[str, str]]) -> bool:
    """Record a refused field name (the caller saw '.' or '$' in it); True if recorded."""
    if "." in key:
        out.append((prefix or key, f"{_DOT_KEY}: {key!r}"))
        return True
    if key[0] == "$":
        out.append((_join(prefix, key), f"{_DOLLAR_KEY}: {key!r}"))
        return True
    return False  # '$' elsewhere in the name is fine


def _scalar_problem(t: type, value: Any) -> str | None:
    """The reason a non-container, non-string value is refused, if it is."""
    if t is float:
        # x - x is 0.0 for every finite x and NaN for NaN and ±Infinity.
        return None if value - value == 0.0 else _NAN_DOUBLE
    if t is Decimal128:
        return _DECIMAL
    return None


# Types that are always stored as they are; skipped with one set lookup.
_SAFE: frozenset[type] = frozenset(
    {int, bool, type(None), Int64, datetime.datetime, bytes, Binary, ObjectId, DatetimeMS}
)


def _walk_document(doc: Mapping[str, Any], prefix: str, out: list[tuple[str, str]]) -> None:
    # Hot path: one call per sub-document; strings (the commonest value) are checked inline.
    for key, value in doc.items():
        if ("." in key or "$" in key) and _bad_key(key, prefix, out):
            continue
        t = type(value)
        if t is str:
            if "\x00" in value:
                out.append((_join(prefix, key), _NUL_STRING))
        elif t in _SAFE:
            continue
        elif t is dict:
            _walk_document(value, _join(prefix, key), out)
        elif t is list or t is tuple:
            _walk_array(value, _join(prefix, key), out)
        elif isinstance(value, Mapping):
            _walk_document(value, _join(prefix, key), out)
        else:
            reason = _scalar_problem(t, value)
            if reason is not None:
                out.append((_join(prefix, key), reason))


def _walk_array(items: list[Any] | tuple[Any, ...], path: str, out: list[tuple[str, str]]) -> None:
    for index, value in enumerate(items):
        t = type(value)
        if t is str:
            if "\x00" in value:
                out.append((f"{path}.{index}", _NUL_STRING))
        elif t in _SAFE:
            continue
        elif t is dict:
            _walk_document(value, f"{path}.{index}", out)
        elif t is list or t is tuple:
            out.append((f"{path}.{index}", _NESTED_ARRAY))
        elif isinstance(value, Mapping):
            _walk_document(value, f"{path}.{index}", out)
        else:
            reason = _scalar_problem(t, value)
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
