"""Recompute affected roots: the CDC half of "one document builder, two drivers".

A batch of transactions is routed to the root documents it touches; each root is rebuilt from
the source's current rows by the snapshot's own builder and replaced in the target, or deleted
when its row is gone. Recompute is idempotent (replaying a batch converges on the same
documents) and order-free (it reads current state), which is what makes at-least-once delivery
and the snapshot/CDC overlap safe. Embedded mode applies batches on one thread, Kafka mode
partitions by root key, so two recomputes of one root never race.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import bson

from relmig.documents.builder import DocumentBuilder
from relmig.documents.plan import RootPlan, compile_collection
from relmig.failpoints import crash_point
from relmig.mongo.writer import MongoTarget
from relmig.project.cascades import binlog_cascades
from relmig.project.model import Project
from relmig.route.cascades import CascadeRouter
from relmig.route.placement import placements_of
from relmig.route.router import Router
from relmig.runtime.gate import IssueGate
from relmig.source.changes import RowChange, TableTruncate, Transaction
from relmig.source.spool import in_memory_changes
from relmig.source.sql import Row, SqlSource

CHUNK = 1000  # roots per source query and per write


def cdc_plans(project: Project, source: SqlSource, target: MongoTarget) -> list[RootPlan]:
    # Table filters are for the snapshot only: CDC keeps every row in sync.
    return [
        compile_collection(project, c, source, filters=False, decimals=target.decimals)
        for c in project.collections
    ]


@dataclass(slots=True)
class Applied:
    events: int = 0
    roots: int = 0
    deleted: int = 0


class ChangeApplier:
    def __init__(self, plans: list[RootPlan], source: SqlSource, gate: IssueGate) -> None:
        self.builders = {p.collection.name: DocumentBuilder(p, source) for p in plans}
        placements = placements_of(plans)
        project = gate.project
        cascades = binlog_cascades(project)
        self.router = Router(
            placements,
            source,
            gate.unreadable,
            CascadeRouter(
                cascades,
                placements,
                self.builders,
                source,
                {t.id: t for t in project.tables},
                gate.target,
                gate.unfollowed,
            )
            if cascades
            else None,
        )
        self.gate = gate
        # Changes routed at once: a transaction's in-memory bound, so a large one stays bounded.
        self.route_chunk = max(in_memory_changes(), 1)

    def apply(self, transactions: Iterable[Transaction]) -> Applied:
        """Make the target reflect every change of the batch; durable when this returns."""
        out = Applied()
        pending: list[RowChange] = []
        for txn in transactions:
            for change in txn.changes:
                out.events += 1
                if isinstance(change, TableTruncate):
                    # Changes before the truncate must land first; those after it re-add rows.
                    self._recompute(pending, out)
                    pending = []
                    self._truncate(change)
                else:
                    pending.append(change)
                    if len(pending) >= self.route_chunk:
                        # Recompute reads current rows, so a large transaction is applied a
                        # piece at a time with the same result; it is checkpointed as a whole.
                        self._recompute(pending, out)
                        pending = []
        self._recompute(pending, out)
        return out

    def apply_roots(self, roots: dict[str, set[Row]]) -> Applied:
        """Rebuild and write the given roots (Kafka sinks receive roots already routed)."""
        out = Applied()
        for collection, keys in roots.items():
            self._rebuild(collection, list(keys), out)
        return out

    def _recompute(self, changes: list[RowChange], out: Applied) -> None:
        if not changes:
            return
        for collection, keys in self.router.route(changes).items():
            self._rebuild(collection, list(keys), out)

    def _rebuild(self, collection: str, keys: list[Row], out: Applied) -> None:
        builder = self.builders[collection]
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            built = builder.build(chunk)
            # Compare addresses, not raw keys: a change image may carry an equal key as another
            # Python type than the query returns (int vs Decimal), and must not delete it.
            found = {bson.encode(b.filter) for b in built if b.doc is not None}
            gone = [f for k in chunk if bson.encode(f := builder.filter_for(k)) not in found]
            self.gate.write(collection, built, gone=gone, recompute=True)
            out.roots += len(built)
            out.deleted += len(gone)

    def _truncate(self, change: TableTruncate) -> None:
        for table_id in change.tables:
            for placement in self.router.collections_of(table_id):
                if not placement.chain:
                    self.gate.clear(placement.collection)
                else:
                    # An embedded table emptied: every root of the collection may have changed.
                    for page in self.builders[placement.collection].scan():
                        self.gate.write(placement.collection, page.built, recompute=True)
                crash_point("truncate-cleared")
