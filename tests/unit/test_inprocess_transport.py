"""The in-process transport's bounds: events, and changes in them."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

from relmig.source.changes import ChangeStream, Heartbeat, Transaction
from relmig.transport.inprocess import InProcessTransport

NOW = dt.datetime.now(dt.UTC)


class Fixed(ChangeStream):
    """Transactions of the given sizes, then idle heartbeats."""

    def __init__(self, sizes: list[int]) -> None:
        self.sizes = sizes
        self.read = 0

    def events(self, idle_seconds: float = 1.0) -> Iterator[Transaction | Heartbeat]:
        for n, size in enumerate(self.sizes):
            self.read = n + 1
            yield Transaction(str(n), NOW, [None] * size)  # type: ignore[list-item]
        while True:
            time.sleep(0.05)
            yield Heartbeat("end", NOW)

    def confirm(self, position: str) -> None:
        pass

    def close(self) -> None:
        pass


def queued_positions(transport: InProcessTransport) -> list[str]:
    return [e.position for e in list(transport._queue.queue)]  # type: ignore[union-attr]


def wait_until(predicate, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_a_run_of_large_transactions_waits_for_room() -> None:
    stream = Fixed([30_000, 30_000, 30_000])
    transport = InProcessTransport(stream, max_changes=50_000)
    try:
        wait_until(lambda: stream.read == 2)
        time.sleep(0.3)
        assert queued_positions(transport) == ["0"]  # the second does not fit beside it
        batches = transport.batches(max_wait=0.01)
        assert [e.position for e in next(batches)] == ["0"]
        wait_until(lambda: queued_positions(transport)[:1] == ["1"])
        time.sleep(0.3)
        assert queued_positions(transport) == ["1"]
    finally:
        transport.close()


def test_one_transaction_larger_than_the_bound_passes_alone() -> None:
    stream = Fixed([10, 200_000, 10])
    transport = InProcessTransport(stream, max_changes=50_000)
    try:
        batches = transport.batches(max_wait=0.3)
        seen: list[str] = []
        while len(seen) < 3:
            seen += [e.position for e in next(batches) if isinstance(e, Transaction)]
        assert seen == ["0", "1", "2"]
    finally:
        transport.close()
