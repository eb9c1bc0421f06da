"""The message format of the job topic: a Debezium-style change envelope plus the root it affects.

A message says "this root document changed; here is the (last) row change that reached it". A
change that reaches several documents (a parent embedded in many roots) becomes one message per
root, each keyed and partitioned by its root. docs/kafka.md documents every field and the value
encoding.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import uuid
import zlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bson import json_util
from bson.errors import InvalidDocument

from relmig import __version__
from relmig.project.model import Project
from relmig.runtime.keys import key_from_json, key_to_json
from relmig.source.changes import UNCHANGED, RowChange
from relmig.source.sql import Row

# Debezium's placeholder for a TOAST value the source did not send.
UNAVAILABLE = "__debezium_unavailable_value"


@dataclass(frozen=True, slots=True)
class Origin:
    """What every message of a job says about where its changes come from."""

    connector: str  # "postgresql" or "mysql"
    name: str  # the job's logical server name, "relmig.<job id>"
    db: str
    tables: dict[str, tuple[str, str]]  # table id → (schema, table name)

    @classmethod
    def of(cls, project: Project, job_id: str) -> Origin:
        return cls(
            connector=project.source.dialect,
            name=f"relmig.{job_id}",
            db=project.source.database,
            tables={t.id: (t.schema_, t.name) for t in project.tables},
        )


@dataclass(frozen=True, slots=True)
class Received:
    """What a sink needs from a message: the root to rebuild (None for a truncate marker)."""

    op: str
    collection: str | None
    key: Row | None
    source_ts_ms: int


def root_key(collection: str, address: dict[str, Any], key: Row) -> bytes:
    """The message key: the collection and how the target addresses the root.

    The address (the `_id` or the key fields of the target document, canonical extended
    JSON) rather than the raw source key, so that equal keys read as different Python types
    (int from an image, Decimal from a query) land in the same partition.
    """
    try:
        ident = json_util.dumps(address, json_options=json_util.CANONICAL_JSON_OPTIONS)
    except InvalidDocument:  # an unconvertible key: the sink records the problem
        ident = json.dumps(key_to_json(key))
    return f"{collection} {ident}".encode()


def partition_of(key: bytes, partitions: int) -> int:
    """Stable across processes and versions (unlike Python's hash), so one root, one partition."""
    return zlib.crc32(key) % partitions


def change_message(
    origin: Origin,
    change: RowChange,
    collection: str,
    key: Row,
    position: str,
    commit_time: dt.datetime,
) -> bytes:
    return _dumps(
        {
            "op": change.op,
            "before": _image(change.before),
            "after": _image(change.after),
            "source": _source(origin, change.table, position, commit_time),
            "ts_ms": _ms(dt.datetime.now(dt.UTC)),
            "root": {"collection": collection, "key": key_to_json(key)},
        }
    )


def rebuild_message(origin: Origin, table: str, collection: str, key: Row, position: str) -> bytes:
    """A root to rebuild as the source has it now: a chunk of a collection copied again for a
    mapping update (Debezium's "r", a snapshot read)."""
    now = dt.datetime.now(dt.UTC)
    return _dumps(
        {
            "op": "r",
            "before": None,
            "after": None,
            "source": _source(origin, table, position, now),
            "ts_ms": _ms(now),
            "root": {"collection": collection, "key": key_to_json(key)},
        }
    )


def truncate_message(origin: Origin, table: str, position: str, commit_time: dt.datetime) -> bytes:
    """Debezium's truncate event ("t"); the source task has applied it already (a barrier)."""
    return _dumps(
        {
            "op": "t",
            "before": None,
            "after": None,
            "source": _source(origin, table, position, commit_time),
            "ts_ms": _ms(dt.datetime.now(dt.UTC)),
            "root": None,
        }
    )


def decode(value: bytes) -> Received:
    message = json.loads(value)
    root = message["root"]
    ts = message["source"]["ts_ms"]
    if root is None:
        return Received(message["op"], None, None, ts)
    return Received(message["op"], root["collection"], key_from_json(root["key"]), ts)


def _source(origin: Origin, table: str, position: str, commit_time: dt.datetime) -> dict:
    schema, name = origin.tables[table]
    return {
        "version": f"relmig-{__version__}",
        "connector": origin.connector,
        "name": origin.name,
        "db": origin.db,
        "schema": schema,
        "table": name,
        "position": position,
        "ts_ms": _ms(commit_time),
    }


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def _dumps(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def _image(image: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if image is None else {k: _plain(v) for k, v in image.items()}


def _plain(value: Any) -> Any:
    """A column value as plain JSON (docs/kafka.md, "Values"); exact where JSON allows."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return f"PT{value.total_seconds()!r}S"
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, uuid.UUID):
        return str(value)
    if value is UNCHANGED:
        return UNAVAILABLE
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, set | frozenset):  # MySQL SET
        return sorted((_plain(v) for v in value), key=str)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)  # network addresses, ranges, enums: their text form
