"""The embedded transport: the stream is read on its own thread into a bounded queue.

Decoding overlaps with applying, and the bound keeps memory flat when the target is slower
than the source. Order is kept, so the applier sees transactions in commit order and a
position is confirmed only after everything before it was applied.
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
    def __init__(self, stream: ChangeStream, capacity: int = 2000, idle_seconds: float = 1.0):
        self.stream = stream
        self._queue: queue.Queue[Event | _Failed] = queue.Queue(maxsize=capacity)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._read, args=(idle_seconds,), name="relmig-reader", daemon=True
        )
        self._thread.start()

    def _read(self, idle_seconds: float) -> None:
        try:
            for event in self.stream.events(idle_seconds):
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

    @staticmethod
    def _unwrap(item: Event | _Failed) -> Event:
        if isinstance(item, _Failed):
            raise item.error
        return item

    def confirm(self, position: str) -> None:
        self.stream.confirm(position)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.stream.close()


def _size(event: Event) -> int:
    return len(event.changes) if isinstance(event, Transaction) else 0
