"""A transaction's changes, kept in memory up to a bound and spilled to a temporary file past it.

A source sends a transaction's changes before its commit (pgoutput streams them in chunks, the
binlog sends every rows event before the XID), and nothing may be applied before the commit:
buffering them in a list makes a 2-million-row transaction cost gigabytes. Past
`in_memory_changes()` the changes are pickled, a chunk at a time, into an anonymous temporary
file (deleted by the OS when closed, even on kill -9) and read back a chunk at a time when the
transaction is applied. Debezium's answer is the same idea in Kafka; ours needs no broker.

Written by hand because what is spooled are Python objects with a per-subtransaction abort
(`drop`): `tempfile.SpooledTemporaryFile` spools bytes, and no maintained library spools an
append-only object sequence.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections import Counter
from collections.abc import Iterator
from typing import IO, Any

from relmig.errors import RelmigError

SPILL_ENV = "RELMIG_TXN_MEMORY_CHANGES"
DEFAULT_IN_MEMORY = 20_000  # ~20-40 MB of row images: a normal transaction never spills
CHUNK = 2_000  # changes per pickled record on disk


def in_memory_changes() -> int:
    """How many changes of one transaction stay in memory (RELMIG_TXN_MEMORY_CHANGES)."""
    raw = os.environ.get(SPILL_ENV, "").strip()
    if not raw:
        return DEFAULT_IN_MEMORY
    if not raw.isdigit():
        raise RelmigError(f"{SPILL_ENV}={raw!r} is not a number of changes (0 or more)")
    return int(raw)


class SpooledChanges:
    """An append-only sequence of changes, each tagged (a subtransaction id, or None).

    Iterating yields the changes in append order without the tags, skipping those of dropped
    (aborted) subtransactions; memory holds at most `in_memory` changes plus one chunk.
    """

    __slots__ = ("_count", "_dropped", "_file", "_head", "_in_memory", "_tags", "_tail", "last")

    def __init__(self, in_memory: int | None = None) -> None:
        self._file: IO[bytes] | None = None  # first: __del__ runs even if the bound is refused
        self._in_memory = in_memory_changes() if in_memory is None else in_memory
        self._head: list[tuple[Any, Any]] = []  # the first `in_memory` changes
        self._tail: list[tuple[Any, Any]] = []  # past them: the chunk not yet on disk
        self._count = 0
        self._tags: Counter[Any] = Counter()  # changes per tag other than None
        self._dropped: set[Any] = set()
        self.last: Any = None  # the last change appended and not dropped, if still known

    def append(self, change: Any, tag: Any = None) -> None:
        self._count += 1
        if tag is not None:
            self._tags[tag] += 1
        self.last = change
        if len(self._head) < self._in_memory:
            self._head.append((tag, change))
            return
        self._tail.append((tag, change))
        if len(self._tail) >= CHUNK:
            if self._file is None:
                self._file = tempfile.TemporaryFile(prefix="relmig-txn-")  # noqa: SIM115 (lives with the spool)
            pickle.dump(self._tail, self._file, pickle.HIGHEST_PROTOCOL)
            self._tail = []

    def drop(self, tag: Any) -> None:
        """A subtransaction aborted: its changes (all appended so far) are skipped."""
        self._dropped.add(tag)
        self._count -= self._tags.pop(tag, 0)
        self.last = None

    @property
    def spilled(self) -> bool:
        return self._file is not None

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return len(self) > 0

    def __iter__(self) -> Iterator[Any]:
        yield from self._kept(self._head)
        if self._file is not None:
            self._file.seek(0)
            while True:
                try:
                    chunk = pickle.load(self._file)
                except EOFError:
                    break
                yield from self._kept(chunk)
        yield from self._kept(self._tail)

    def __eq__(self, other: object) -> bool:
        """Equal to another sequence of the same changes (reads the disk part: for tests)."""
        if isinstance(other, SpooledChanges | list):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def _kept(self, entries: list[tuple[Any, Any]]) -> Iterator[Any]:
        if not self._dropped:
            for _, change in entries:
                yield change
        else:
            for tag, change in entries:
                if tag not in self._dropped:
                    yield change

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __del__(self) -> None:  # the transaction was applied and forgotten
        self.close()
