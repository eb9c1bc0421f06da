"""Copying a running job's rebuilt and added collections while its CDC goes on.

Debezium's incremental snapshots follow DBLog: a chunk of keys is read between a low and a high
watermark written to the source, and a change streamed between the two wins over the chunk's
copy. relmig never writes to the source, and needs no watermark rows for it: the CDC loop reads
each chunk itself, between two batches, when every change up to the saved position is in the
target (the low watermark) and none after it is. The chunk holds the source as of its read (the
high watermark); every change committed after the position is streamed after the chunk and
applied over it by recompute, which reads current rows, so a change made during the chunk wins,
as in DBLog. It is the argument that makes a continuous job's first snapshot safe, one chunk at
a time.

A collection is copied into a shadow collection that CDC keeps current as it fills, and the
shadow replaces the collection once its last chunk is in. Readers see the old documents,
complete, until the new ones are complete; writing in place would show a mix of the two mappings
and keep the documents whose `_id` or filter changed. The price: the old collection no longer
follows the source while its successor is copied (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from relmig.documents.builder import DocumentBuilder, Page
from relmig.documents.plan import RootPlan, compile_collection
from relmig.failpoints import crash_point
from relmig.mongo.writer import MongoTarget
from relmig.project.model import Project
from relmig.runtime.keys import dumps_key, loads_key
from relmig.runtime.records.recopies import COPIED, COPYING, pending
from relmig.runtime.store import StateStore
from relmig.source.sql import SqlSource

SHADOW_PREFIX = "relmig_recopy_"  # no dot: FerretDB v1 refuses one in a collection name
# The stream restarts with the project as it now is (a collection swapped in, an update taken).
REMAP = "REMAP"


def shadow_of(collection: str) -> str:
    return SHADOW_PREFIX + collection


def streaming_project(project: Project, recopies: list[dict[str, Any]]) -> Project:
    """The project CDC applies with: a collection being copied is written to its shadow."""
    shadows = {r["collection"]: r["shadow"] for r in pending(recopies) if r["action"] == "copy"}
    if not shadows:
        return project
    rules = [
        c.model_copy(update={"name": shadows[c.name]}) if c.name in shadows else c
        for c in project.collections
    ]
    return project.model_copy(update={"collections": rules})


def settle(
    store: StateStore, job_id: str, project: Project, source: SqlSource, target: MongoTarget
) -> Project:
    """Do the target work a recorded update still owes, each step safe to repeat after a
    crash: drop what it drops, swap in what is copied, make every shadow exist (one not yet
    checkpointed starts empty). Returns the project to stream with."""
    recopies = store.recopies_of(job_id)
    for row in pending(recopies):
        if row["action"] == "drop":
            store.clear_floor(job_id, row["collection"])
            target.drop(row["collection"])
            crash_point("update-dropped")
            store.recopy_done(job_id, row["collection"], None)
        elif row["state"] == COPIED:
            swap(store, job_id, target, row)
    recopies = store.recopies_of(job_id)
    streaming = streaming_project(project, recopies)
    for row in pending(recopies):
        shadow = row["shadow"]
        if row["last_key"] is None and not row["rows_done"]:
            store.clear_floor(job_id, shadow)
            target.drop(shadow)
        target.create(shadow)
        rule = streaming.collection(shadow)
        target.prepare(
            [compile_collection(streaming, rule, source, decimals=target.decimals)], drop=False
        )
    return streaming


def swap(store: StateStore, job_id: str, target: MongoTarget, row: dict[str, Any]) -> None:
    """The copied shadow becomes the collection; a shadow already gone was renamed."""
    if row["shadow"] in target.collections():
        held = target.count(row["shadow"])  # the stream waits: nothing changes it meanwhile
        target.replace_collection(row["collection"], row["shadow"])
        crash_point("recopy-renamed")
    else:
        held = target.count(row["collection"])
    store.recopy_done(job_id, row["collection"], row["shadow"], held)


# How an engine moves one chunk to its shadow: embedded writes it through the error policy,
# Kafka mode publishes its roots for the sinks to rebuild.
ChunkWriter = Callable[[str, Page], None]


class Recopier:
    """Copies the next chunk of the first unfinished collection when the CDC loop asks."""

    def __init__(
        self,
        store: StateStore,
        job_id: str,
        project: Project,
        source: SqlSource,
        target: MongoTarget,
        chunk_roots: int,
    ) -> None:
        """`chunk_roots`: roots per chunk, the job's snapshot batch size."""
        self.store = store
        self.job_id = job_id
        self.project = project
        self.source = source
        self.target = target
        self.chunk_roots = chunk_roots
        self.rows = [r for r in pending(store.recopies_of(job_id)) if r["action"] == "copy"]
        self._plans: dict[str, RootPlan] = {}

    @property
    def pending(self) -> bool:
        return bool(self.rows)

    @property
    def copied(self) -> bool:
        """The next collection's last chunk is in, its swap not done (a crash came between)."""
        return bool(self.rows) and self.rows[0]["state"] == COPIED

    def step(self, write: ChunkWriter, settled: Callable[[], None] = lambda: None) -> bool:
        """Copy one chunk with `write` and checkpoint it. Once a collection's last chunk is
        in, `settled` returns when everything written is in the target (Kafka: the sinks have
        applied it), and the shadow is swapped in: returns True, and the stream must go on
        with the project as it is now (streaming_project)."""
        row = self.rows[0]
        if row["state"] != COPIED and not self._chunk(row, write):
            return False
        # The last chunk is in (or was, before a crash): never scan again, since a shadow
        # renamed already would be recreated by the writes and then replace the collection.
        settled()
        crash_point("recopy-copied")
        swap(self.store, self.job_id, self.target, row)
        self.rows.pop(0)
        return True

    def _chunk(self, row: dict[str, Any], write: ChunkWriter) -> bool:
        """Copy and checkpoint the next chunk of `row`'s collection; True if it was the last."""
        shadow = row["shadow"]
        if shadow not in self._plans:
            # The snapshot's plan (with its table filters): a copy is the collection's snapshot.
            self._plans[shadow] = compile_collection(
                self.project,
                self.project.collection(shadow),
                self.source,
                decimals=self.target.decimals,
            )
        after = loads_key(row["last_key"]) if row["last_key"] else None
        scan = DocumentBuilder(self._plans[shadow], self.source).scan(after, self.chunk_roots)
        page = next(scan, None)
        if page is None:  # no root after the last chunk (or none at all)
            last, rows, copied = row["last_key"], 0, True
        else:
            write(shadow, page)
            crash_point("recopy-chunk-written")
            last, rows, copied = dumps_key(page.last_key), page.rows, page.last
        self.store.recopy_checkpoint(self.job_id, row["collection"], last, rows, copied)
        row.update(
            last_key=last, rows_done=row["rows_done"] + rows, state=COPIED if copied else COPYING
        )
        return copied
