"""The embedded transport: the stream is read on its own thread into a bounded queue.

Decoding overlaps with applying, and the bounds keep memory flat when the target is slower
than the source: at most `capacity` events, and at most `max_changes` changes in them, so a run
of large transactions cannot fill memory (one larger than the whole bound still passes alone,
its changes spooled: relmig.source.spool). Order is kept, so the applier sees transactions in
commit order and a position is confirmed only after everything before it was applied.

A batch is what has queued up while the previous one was applied (no wait for more: a lone
commit is applied at once), bounded by a `BatchBudget` in apply time rather than in events, so
a resumed job checkpoints within about a second whatever its backlog. While the applier is busy
and the queue full, the reader thread keeps the stream alive (`ChangeStream.keepalive`): a
source that hears nothing from its reader for its timeout ends the stream.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator

from relmig.source.changes import ChangeStream, Heartbeat, Transaction

Event = Transaction | Heartbeat

KEEPALIVE_SECONDS = 1.0  # how often a reader blocked on a full queue keeps the stream alive


class BatchBudget:
    """How many changes the next batch may take, so that applying it takes about `seconds`.

    It starts small (a resumed job's first checkpoint comes quickly, before the rate is known)
    and follows the measured apply rate: doubling at most per batch, shrinking at once when a
    batch ran long (a slower target, or a fan-out).
    """

    def __init__(
        self, seconds: float = 1.0, first: int = 200, least: int = 10, most: int = 20_000
    ) -> None:
        self.seconds = seconds
        self.least = least
        self.most = most
        self.limit = first

    def record(self, changes: int, seconds: float) -> None:
        if changes < self.limit // 2 and seconds < self.seconds:
            return  # a small batch says little about the rate
        fits = changes * self.seconds / max(seconds, 1e-3)
        self.limit = int(min(max(fits, self.least), 2 * self.limit, self.most))


class InProcessTransport:
    def __init__(
        self,
        stream: ChangeStream,
        capacity: int = 2000,
        idle_seconds: float = 1.0,
        max_changes: int = 50_000,
    ):
        self.stream = stream
        self._queue: queue.Queue[Event | _Failed] = queue.Queue(maxsize=capacity)
        self._max_changes = max_changes
        self._queued = 0  # changes in the queue
        self._room = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._read, args=(idle_seconds,), name="relmig-reader", daemon=True
        )
        self._thread.start()

    def _read(self, idle_seconds: float) -> None:
        try:
            for event in self.stream.events(idle_seconds):
                size = _size(event)
                with self._room:
                    while not self._stop.is_set() and not self._fits(size):
                        if not self._room.wait(KEEPALIVE_SECONDS):
                            self.stream.keepalive()
                    self._queued += size
                while not self._stop.is_set():
                    try:
                        self._queue.put(event, timeout=KEEPALIVE_SECONDS)
                        break
                    except queue.Full:
                        self.stream.keepalive()
                if self._stop.is_set():
                    return
        except BaseException as exc:  # handed to the applier's thread, which fails the job
            self._queue.put(_Failed(exc))

    def _fits(self, size: int) -> bool:
        return self._queued == 0 or self._queued + size <= self._max_changes

    def batches(
        self, budget: BatchBudget | None = None, busy: Callable[[], bool] = lambda: False
    ) -> Iterator[list[Event]]:
        """Batches in order: the first waiting event and whatever queued behind it, up to the
        budget's changes (a transaction larger than that passes alone). While the caller is
        `busy` with work of its own (a re-copy), nothing is waited for: an empty batch gives
        it its turn."""
        budget = budget or BatchBudget()
        held: Event | None = None  # taken from the queue, too large for the batch before
        while True:
            if held is None and busy():
                try:
                    held = self._take(self._queue.get_nowait())
                except queue.Empty:
                    yield []
                    continue
            first = held if held is not None else self._take(self._queue.get())
            held = None
            batch = [first]
            size = _size(first)
            while size < budget.limit:
                try:
                    event = self._take(self._queue.get_nowait())
                except queue.Empty:
                    break
                if size + _size(event) > budget.limit:
                    held = event
                    break
                batch.append(event)
                size += _size(event)
            yield batch

    def _take(self, item: Event | _Failed) -> Event:
        if isinstance(item, _Failed):
            raise item.error
        size = _size(item)
        if size:
            with self._room:
                self._queued -= size
                self._room.notify()
        return item

    def confirm(self, position: str) -> None:
        self.stream.confirm(position)

    def close(self) -> None:
        self._stop.set()
        with self._room:
            self._room.notify_all()
        self._thread.join(timeout=5)
        self.stream.close()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def _size(event: Event) -> int:
    return len(event.changes) if isinstance(event, Transaction) else 0
