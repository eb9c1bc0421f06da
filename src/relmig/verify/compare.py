"""Compare the target with the documents the mapping gives for the source's current rows.

Expected documents come from the same document builder as the snapshot and CDC. Both sides go
through a BSON round trip before comparison, so what is compared is what MongoDB stores
(millisecond datetimes, UTC, Decimal128). Memory stays bounded: pages are compared as they are
built, and the keys seen are kept in a temporary SQLite file for the extra-document pass.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bson
from bson.codec_options import CodecOptions, DatetimeConversion

from relmig.documents.builder import Built, DocumentBuilder
from relmig.documents.plan import RootPlan, compile_collection
from relmig.mongo.profile import TargetProfile
from relmig.mongo.writer import MongoTarget, key_query
from relmig.project.model import Project
from relmig.runtime.keys import show_key
from relmig.source.sql import SqlSource

# DATETIME_AUTO: dates outside Python's range (stored as DatetimeMS) must decode, not raise.
CODEC = CodecOptions(tz_aware=True, datetime_conversion=DatetimeConversion.DATETIME_AUTO)


@dataclass(slots=True)
class Difference:
    kind: str  # missing | extra | different
    key: str
    detail: str = ""


@dataclass(slots=True)
class CollectionReport:
    name: str
    expected: int = 0
    actual: int = 0
    matched: int = 0
    missing: int = 0
    extra: int = 0
    different: int = 0
    unmigratable: int = 0
    examples: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.different) and self.actual <= self.expected


@dataclass(slots=True)
class VerifyReport:
    collections: list[CollectionReport]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.collections)

    def as_dict(self, max_examples: int = 5) -> dict[str, Any]:
        """The report as JSON: what a job stores, the API returns and `--json` prints."""
        return {
            "ok": self.ok,
            "collections": [
                {
                    "name": c.name,
                    "ok": c.ok,
                    **{
                        k: getattr(c, k)
                        for k in ("expected", "actual", "missing", "extra", "different")
                    },
                    "unmigratable": c.unmigratable,
                    "examples": [
                        {"kind": d.kind, "key": d.key, "detail": d.detail}
                        for d in c.examples[:max_examples]
                    ],
                }
                for c in self.collections
            ],
        }


def verify(
    project: Project,
    source: SqlSource,
    target: MongoTarget,
    *,
    collections: list[str] | None = None,
    filters: bool = True,
    batch_size: int = 1000,
    max_examples: int = 20,
) -> VerifyReport:
    reports = []
    for rule in project.collections:
        if collections is not None and rule.name not in collections:
            continue
        plan = compile_collection(project, rule, source, filters=filters, decimals=target.decimals)
        reports.append(_verify_collection(plan, source, target, batch_size, max_examples))
    return VerifyReport(reports)


def _verify_collection(
    plan: RootPlan, source: SqlSource, target: MongoTarget, batch_size: int, max_examples: int
) -> CollectionReport:
    report = CollectionReport(plan.collection.name)
    coll = target.db.get_collection(plan.collection.name, codec_options=CODEC)
    report.actual = coll.count_documents({})
    builder = DocumentBuilder(plan, source)
    with tempfile.TemporaryDirectory(prefix="relmig-verify-") as tmp:
        seen = sqlite3.connect(Path(tmp) / "keys.db")
        seen.execute("CREATE TABLE k (ident BLOB PRIMARY KEY)")
        seen.execute("CREATE TABLE ids (ident BLOB PRIMARY KEY)")
        for page in builder.scan(batch_size=batch_size):
            _compare_page(plan, target.profile, coll, page.built, report, seen, max_examples)
        if report.actual > report.matched:
            _find_extras(plan, coll, report, seen, batch_size, max_examples)
        seen.close()
    return report


def _compare_page(
    plan: RootPlan,
    profile: TargetProfile,
    coll: Any,
    built: list[Built],
    report: CollectionReport,
    seen: sqlite3.Connection,
    max_examples: int,
) -> None:
    built = [b for b in built if b.doc is not None]  # roots their filter left out
    report.expected += len(built)
    expected = {_ident(b.filter): b for b in built}
    seen.executemany("INSERT OR IGNORE INTO k VALUES (?)", [(k,) for k in expected])
    # A root with a value the target cannot store was handled by the job's error policy and
    # recorded in its Issues list; it is counted, not compared. So is a root whose custom
    # `_id` an earlier root (in key order) has: the target refuses the duplicate.
    for ident, b in list(expected.items()):
        if (
            b.blocked
            or (b.needs_screen and profile.problems(b.doc))
            or _duplicate_id(plan, b, seen)
        ):
            report.unmigratable += 1
            del expected[ident]
    wanted = list(expected.values())
    if plan.keyed_by_fields:
        query: dict[str, Any] = key_query([b.filter for b in wanted])
    else:
        query = {"_id": {"$in": [b.filter["_id"] for b in wanted]}}
    actual = {}
    for doc in coll.find(query) if wanted else ():
        actual[_ident(_filter_of(plan, doc))] = doc
    for ident, b in expected.items():
        doc = actual.get(ident)
        if doc is None:
            report.missing += 1
            _example(report, max_examples, Difference("missing", show_key(b.key)))
            continue
        report.matched += 1
        if plan.id_mode == "objectid":
            doc.pop("_id", None)
        assert b.doc is not None
        want = bson.decode(bson.encode(b.doc), codec_options=CODEC)
        if want != doc and not _same(want, doc):
            report.different += 1
            _example(
                report,
                max_examples,
                Difference("different", show_key(b.key), _first_difference(want, doc)),
            )


def _same(want: Any, found: Any) -> bool:
    """Equality in which a NaN double equals a NaN double (Python's == says it never does, so
    a stored NaN would always look different); called only when == said no."""
    if type(want) is float and type(found) is float:
        return want == found or (want != want and found != found)
    if type(want) is dict and type(found) is dict:
        return want.keys() == found.keys() and all(_same(want[k], found[k]) for k in want)
    if type(want) is list and type(found) is list:
        return len(want) == len(found) and all(map(_same, want, found))
    return bool(want == found)


def _find_extras(
    plan: RootPlan,
    coll: Any,
    report: CollectionReport,
    seen: sqlite3.Connection,
    batch_size: int,
    max_examples: int,
) -> None:
    projection = {".".join(p): 1 for p in plan.key_paths} if plan.keyed_by_fields else {"_id": 1}
    for docs in _chunks(coll.find({}, projection).batch_size(batch_size), batch_size):
        for doc in docs:
            flt = _filter_of(plan, doc)
            if seen.execute("SELECT 1 FROM k WHERE ident = ?", (_ident(flt),)).fetchone() is None:
                report.extra += 1
                shown = flt.get("_id", flt)
                _example(report, max_examples, Difference("extra", str(shown)))


def _duplicate_id(plan: RootPlan, built: Built, seen: sqlite3.Connection) -> bool:
    """Whether an earlier root already has this root's custom `_id` (and note it if not)."""
    if plan.id_mode not in ("columns", "expression") or built.doc is None:
        return False
    ident = bson.encode({"k": built.doc["_id"]})
    taken = seen.execute("SELECT 1 FROM ids WHERE ident = ?", (ident,)).fetchone()
    seen.execute("INSERT OR IGNORE INTO ids VALUES (?)", (ident,))
    return taken is not None


def _filter_of(plan: RootPlan, doc: dict[str, Any]) -> dict[str, Any]:
    if not plan.keyed_by_fields:
        return {"_id": doc["_id"]}
    out = {}
    for path in plan.key_paths:
        node: Any = doc
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        out[".".join(path)] = node
    return out


def _ident(flt: dict[str, Any]) -> bytes:
    """A hashable, exact identity for a document key (BSON bytes compare type and value)."""
    return bson.encode({"k": list(flt.values())})


def _chunks(cursor: Any, size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for doc in cursor:
        batch.append(doc)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _example(report: CollectionReport, limit: int, diff: Difference) -> None:
    if len(report.examples) < limit:
        report.examples.append(diff)


def _first_difference(want: Any, got: Any, path: str = "") -> str:
    """The first path where two documents differ, for a readable report."""
    if isinstance(want, dict) and isinstance(got, dict):
        for key in want.keys() | got.keys():
            sub = f"{path}.{key}" if path else key
            if key not in got:
                return f"{sub}: missing in target"
            if key not in want:
                return f"{sub}: not expected"
            if not _same(want[key], got[key]):
                return _first_difference(want[key], got[key], sub)
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return f"{path}: {len(want)} elements expected, {len(got)} found"
        for i, (a, b) in enumerate(zip(want, got, strict=True)):
            if not _same(a, b):
                return _first_difference(a, b, f"{path}.{i}")
    return f"{path}: expected {want!r}, found {got!r}"
