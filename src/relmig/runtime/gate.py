"""The error policy at the door of the target: problems become Issues, documents pass or not.

Snapshot and CDC both write through it, so a bad row is recorded with its key and reason and
handled by FAIL/WARN/SKIP the same way whichever driver built it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from relmig.documents.builder import Built
from relmig.mongo.profile import drop_path
from relmig.mongo.writer import MongoTarget
from relmig.project.model import Project
from relmig.runtime.keys import show_key
from relmig.runtime.policy import ErrorPolicy
from relmig.runtime.store import IssueRecord, StateStore


class IssueGate:
    def __init__(
        self,
        project: Project,
        target: MongoTarget,
        store: StateStore,
        job_id: str,
        policy: ErrorPolicy,
    ) -> None:
        self.project = project
        self.target = target
        self.store = store
        self.job_id = job_id
        self.policy = policy

    def write(
        self,
        collection: str,
        built: list[Built],
        *,
        gone: Sequence[dict[str, Any]] = (),
        recompute: bool = False,
    ) -> int:
        """Screen, write (and delete `gone`), and record what the target refused; durable when
        this returns. Returns how many documents were written. `recompute` is CDC's: see
        MongoTarget.write.

        A CDC write may remove documents for a moment (FerretDB's replace is delete + insert)
        or for good (`gone`): the collection's floor is lowered before it and restored after,
        so a crash in between never makes the floor claim more than the target holds.
        """
        to_write = self.screen(collection, built)
        vanishing = len(gone) + (len(to_write) if self.target.profile.replace_by_delete else 0)
        if recompute and vanishing:
            self.store.adjust_floor(self.job_id, collection, -vanishing)
        failures = self.target.write(collection, to_write, gone=gone, recompute=recompute)
        written = len(to_write) - len(failures)
        if recompute and vanishing - len(gone):
            self.store.adjust_floor(self.job_id, collection, written)
        if failures:
            # A refused document is not in the target, whatever the policy: always an error.
            table = self.project.collection(collection).table
            self._record(
                [
                    IssueRecord(
                        "ERROR",
                        collection,
                        table,
                        show_key(to_write[f.position].key),
                        None,
                        f"the target refused the document: {f.reason}",
                    )
                    for f in failures
                ]
            )
        return written

    def clear(self, collection: str) -> None:
        """Empty a collection (a TRUNCATE of its root table), its floor first."""
        self.store.clear_floor(self.job_id, collection)
        self.target.clear(collection)

    def screen(self, collection: str, built: list[Built]) -> list[Built]:
        """Record every problem and keep the documents the policy lets through."""
        keep: list[Built] = []
        records: list[IssueRecord] = []
        profile = self.target.profile
        root_table = self.project.collection(collection).table
        severity = self.policy.severity
        for b in built:
            target_problems = (
                profile.problems(b.doc) if b.needs_screen and b.doc is not None else []
            )
            if not b.problems and not target_problems:
                keep.append(b)
                continue
            for p in b.problems:
                records.append(
                    IssueRecord(
                        self.policy.severity,
                        collection,
                        p.table,
                        show_key(p.key),
                        p.field,
                        p.reason,
                    )
                )
            for path, reason in target_problems:
                records.append(
                    IssueRecord(
                        severity,
                        collection,
                        root_table,
                        show_key(b.key),
                        path,
                        f"the target cannot store this value: {reason}",
                    )
                )
            if b.doc is None:
                continue  # a root its filter left out: only the notice
            if not target_problems and not b.blocked:
                keep.append(b)  # only notices: the document is complete
            elif self.policy.on_error == "WARN" and "_id" not in {p.field for p in b.problems}:
                for path, _ in target_problems:
                    drop_path(b.doc, path)
                keep.append(b)
        self._record(records)
        return keep

    def unreadable(self, table: str, key: tuple[Any, ...], column: str, reason: str) -> None:
        """A change whose routing value the source's decoder could not read: its documents
        cannot be found, so the row is a problem under the error policy."""
        detail = f"a change of this row could not be routed: {reason}"
        self._record(
            [IssueRecord(self.policy.severity, None, table, show_key(key), column, detail)]
        )

    def unfollowed(self, collection: str, table: str, reason: str) -> None:
        """A cascade the source applied without logging it, which this collection's documents
        could not be searched for: they may keep child rows the source changed."""
        self._record([IssueRecord(self.policy.severity, collection, table, None, None, reason)])

    def _record(self, records: list[IssueRecord]) -> None:
        if records:
            self.store.add_issues(self.job_id, records)
            self.policy.count(len(records), _example(records[0]))


def _example(record: IssueRecord) -> str:
    where = f"{record.table_id} key {record.key}"
    if record.field:
        where += f" column {record.field}"
    return f"{where}: {record.detail}"
