"""The embedded transport: the stream is read on its own thread into a bounded queue.

Decoding overlaps with applying, and the bounds keep memory flat when the target is slower
than the source: at most `capacity` events, and at most `max_changes` changes in them, so a run
of large transactions cannot fill memory (one larger than the whole bound still passes alone,
its changes spooled: relmig.source.spool). Order is kept, so the applier sees transactions in
commit order and a position is confirmed only after everything before it was applied.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

from relmig.source.changes import ChangeStream, Heartbeat, Transaction

Event = Transaction | Heartbeat


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


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
                        self._room.wait(0.2)
                    self._queued += size
                while not self._stop.is_set():
                    try:
                        self._queue.put(event, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
        except BaseException as exc:  # handed to the applier's thread, which fails the job
            self._queue.put(_Failed(exc))

    def _fits(self, size: int) -> bool:
        return self._queued == 0 or self._queued + size <= self._max_changes

    def batches(self, max_events: int = 5000, max_wait: float = 0.2) -> Iterator[list[Event]]:
        """Batches in order; a batch ends at `max_events` changes or after `max_wait`."""
        while True:
            first = self._queue.get()
            batch = [self._unwrap(first)]
            size = _size(batch[0])
            deadline = time.monotonic() + max_wait
            while size < max_events:
                timeout = deadline - time.monotonic()
                if timeout <= 0:
                    break
                try:
                    event = self._unwrap(self._queue.get(timeout=timeout))
                except queue.Empty:
                    break
                batch.append(event)
                size += _size(event)
            yield batch

    def _unwrap(self, item: Event | _Failed) -> Event:
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
        self._thread.join(timeout=5)
        self.stream.close()


def _size(event: Event) -> int:
    return len(event.changes) if isinstance(event, Transaction) else 0
