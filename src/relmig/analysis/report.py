"""The pre-migration analysis: what will go wrong, measured on the source before any job runs.

Every finding names what it is about and why it matters, in the user's terms; the same report
feeds `relmig analyze` (table or `--json`) and the UI's Analysis panel.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import bson

from relmig.analysis.custom_ids import duplicate_ids
from relmig.analysis.edges import count_edges, edge_checks
from relmig.analysis.sizes import children_per_parent, largest_roots
from relmig.documents.builder import DocumentBuilder
from relmig.documents.plan import compile_collection
from relmig.mongo.profile import TargetProfile
from relmig.project.model import CollectionRule, EmbedRule, Project, Table
from relmig.project.validate import dotted_names
from relmig.route.cascades import cascade_report
from relmig.runtime.keys import show_key
from relmig.schema.link_indexes import advice, unindexed
from relmig.source.capture import mapped_tables
from relmig.source.sql import SqlSource

MAX_DOCUMENT = 16 * 1024 * 1024  # MongoDB's BSON document limit
LARGE_ARRAY = 1000  # children per parent past which a document grows with every change


@dataclass(slots=True)
class Finding:
    kind: str  # no_primary_key | unindexed_link | large_array | document_too_large |
    #            unstorable_values | renamed | collection_name | cascade | custom_id
    severity: str  # error (the job will fail or lose data), warning (slow, risky), info
    subject: str  # the table, column, collection or field it is about
    message: str
    fix: str | None = None  # SQL, where SQL fixes it


@dataclass(slots=True)
class Analysis:
    project: str
    findings: list[Finding] = field(default_factory=list)
    arrays: list[dict[str, Any]] = field(default_factory=list)
    collections: list[dict[str, Any]] = field(default_factory=list)
    snapshot_seconds: float | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def analyze(
    project: Project,
    source: SqlSource,
    profile: TargetProfile | None = None,
    live: list[Table] | None = None,
    sample: int = 200,
) -> Analysis:
    """`profile` is the target's, when known: some values only fail on some servers. `live`
    is the schema as the source has it now (keys and indexes may have changed since import)."""
    started = time.monotonic()
    out = Analysis(project.name)
    now = {t.id: t for t in live or ()}
    current = project.model_copy(
        update={"tables": [now.get(t.id, t) for t in project.tables]}, deep=False
    )
    _primary_keys(current, out)
    _link_indexes(current, source, out)
    for dup in duplicate_ids(current, source):
        out.findings.append(Finding("custom_id", "error", dup.collection, dup.message()))
    for line, followed in cascade_report(project, source):
        subject, message = line.split(": ", 1)
        out.findings.append(
            Finding(
                "cascade",
                "info" if followed else "error",
                subject,
                ("followed " if followed else "") + message,
            )
        )
    for rule in project.collections:
        _collection(project, source, rule, profile, sample, out)
    for table in mapped_tables(project):
        for check, n in count_edges(source, table, edge_checks(source, table, profile)):
            out.findings.append(
                Finding(
                    "unstorable_values",
                    "error",
                    f"{table.id}.{check.column}",
                    f"{n:,} rows hold {check.what}, which the target cannot store as they are; "
                    "the job's error policy decides (FAIL stops, WARN drops the value, SKIP "
                    "the document)",
                )
            )
    _renames(project, out)
    for warning in dotted_names(project):  # key-less tables: _primary_keys
        out.findings.append(Finding("collection_name", "warning", *warning.split(": ", 1)))
    times = [c["estimated_seconds"] for c in out.collections]
    out.snapshot_seconds = sum(times) if times and None not in times else None
    out.seconds = time.monotonic() - started
    return out


def _primary_keys(project: Project, out: Analysis) -> None:
    for table in project.tables:
        if table.primary_key:
            continue
        out.findings.append(
            Finding(
                "no_primary_key",
                "error",
                table.id,
                "no primary key: no rule can map it (its rows cannot be addressed in the "
                "target), and CDC could not match a change to a row (PostgreSQL refuses "
                "UPDATE and DELETE on it once it is published)",
                f"ALTER TABLE {table.id} ADD PRIMARY KEY (...);",
            )
        )


def _link_indexes(project: Project, source: SqlSource, out: Analysis) -> None:
    for end in unindexed(project):
        fix = advice(source, project.table(end.table), end)
        out.findings.append(
            Finding(
                "unindexed_link",
                "warning",
                f"{end.table}({', '.join(end.columns)})",
                f"{fix.problem}: every snapshot page and every routed change scans the table",
                fix.fix,
            )
        )


def _collection(
    project: Project,
    source: SqlSource,
    rule: CollectionRule,
    profile: TargetProfile | None,
    sample: int,
    out: Analysis,
) -> None:
    table = project.table(rule.table)
    _arrays(project, source, rule.name, rule.embeds, out)
    decimals = "decimal128" if profile is None or profile.decimal128 else "string"
    plan = compile_collection(project, rule, source, decimals=decimals)  # type: ignore[arg-type]
    builder = DocumentBuilder(plan, source)
    rows = source.count(table)
    keys = [tuple(r) for r in source.fetch(_key_sample_sql(source, table, sample))]
    started = time.monotonic()
    built = builder.build(keys)
    build_seconds = time.monotonic() - started
    built = [b for b in built if b.doc is not None]  # roots a filter leaves out
    sizes = sorted(len(bson.encode(b.doc)) for b in built)
    per_root = build_seconds / len(built) if built else None
    out.collections.append(
        {
            "name": rule.name,
            "table": table.id,
            "rows": rows,
            "sampled": len(sizes),
            "size_p50": _rank(sizes, 0.50),
            "size_p99": _rank(sizes, 0.99),
            "size_max": sizes[-1] if sizes else None,
            # Built one root at a time from a random sample: an upper bound of the snapshot's
            # source side, which reads pages of 1000 roots in key order.
            "estimated_seconds": rows * per_root if per_root is not None else None,
        }
    )
    for key, estimate in largest_roots(source, project, rule):
        if estimate <= MAX_DOCUMENT * 0.9:
            break
        actual = next(
            (len(bson.encode(b.doc)) for b in builder.build([key]) if b.doc is not None), estimate
        )
        if actual > MAX_DOCUMENT:
            out.findings.append(
                Finding(
                    "document_too_large",
                    "error",
                    f"{rule.name} {show_key(key)}",
                    f"the document of {table.id} key {show_key(key)} is {actual:,} bytes, over "
                    f"MongoDB's 16 MB limit: the target will refuse it; limit its arrays "
                    "(sort + limit) or map the largest one as its own collection",
                )
            )


def _key_sample_sql(source: SqlSource, table: Table, sample: int) -> str:
    cols = ", ".join(source.quote(c) for c in table.primary_key)
    shuffle = "random()" if source.settings.dialect == "postgresql" else "RAND()"
    return f"SELECT {cols} FROM {source.relation(table)} ORDER BY {shuffle} LIMIT {int(sample)}"


def _rank(values: list[int], q: float) -> int | None:
    if not values:
        return None
    return values[min(len(values) - 1, max(0, int(len(values) * q + 0.999999) - 1))]


def _arrays(
    project: Project, source: SqlSource, where: str, embeds: list[EmbedRule], out: Analysis
) -> None:
    for e in embeds:
        path = f"{where}.{e.field}"
        if e.kind == "array":
            table = project.table(e.table)
            stats = children_per_parent(source, table, table.foreign_key(e.foreign_key).columns)
            out.arrays.append({"field": path, "table": table.id, "limit": e.limit, **stats})
            if stats["max"] > LARGE_ARRAY and e.limit is None:
                out.findings.append(
                    Finding(
                        "large_array",
                        "warning",
                        path,
                        f"up to {stats['max']:,} elements per document (p99 {stats['p99']:,}): "
                        "every change to one child rewrites the whole array; consider sort + "
                        "limit, or a collection of its own",
                    )
                )
        _arrays(project, source, path, e.embeds, out)


def _renames(project: Project, out: Analysis) -> None:
    for c in project.collections:
        table = project.table(c.table)
        if c.name != table.name:
            out.findings.append(
                Finding("renamed", "info", table.id, f"becomes the collection {c.name}")
            )
        _renamed_fields(project, table, c.fields, c.embeds, c.name, out)


def _renamed_fields(
    project: Project,
    table: Table,
    fields: dict[str, Any],
    embeds: list[EmbedRule],
    where: str,
    out: Analysis,
) -> None:
    for col, rule in fields.items():
        if rule.include and rule.name and rule.name != col:
            out.findings.append(
                Finding("renamed", "info", f"{table.id}.{col}", f"becomes {where}.{rule.name}")
            )
    for e in embeds:
        inner = where if e.merge else f"{where}.{e.field}"
        _renamed_fields(project, project.table(e.table), e.fields, e.embeds, inner, out)
